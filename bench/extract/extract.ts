/**
 * bench/extract: the interface manifest of every ELF file in a large tree vs
 * `readelf -dW --dyn-syms -V` over the same files, in one run. Both are single-threaded and read
 * the same files from a warm page cache; each side runs REPEAT times and the best time counts (the
 * machine is shared). Prints files/s, MB/s and the ratio (readelf time / Eos time: > 1 means Eos is
 * faster).
 *
 * Usage: npx tsx bench/extract/extract.ts [DIR] [REPEAT]   (default /usr/lib/x86_64-linux-gnu, 3)
 */
import { spawnSync } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import {
  listElfFiles,
  parseElf,
  interfaceOfElf,
  assembleManifest,
  manifestDigest,
} from '../../extractors/index.ts';
import type { ElfFileInterface } from '../../extractors/index.ts';

const dir = process.argv[2] ?? '/usr/lib/x86_64-linux-gnu';
const repeat = Number(process.argv[3] ?? 3);

const files = listElfFiles(dir);
let bytesTotal = 0;
for (const f of files) bytesTotal += readFileSync(f.abs).length; // warms the page cache
const mb = bytesTotal / 1e6;

function eos(): { ms: number; digest: string; errors: number } {
  const t0 = performance.now();
  const parts: ElfFileInterface[] = [];
  let errors = 0;
  for (const f of files) {
    try {
      parts.push(interfaceOfElf(f.path, parseElf(readFileSync(f.abs), f.path)));
    } catch {
      errors++;
    }
  }
  const digest = manifestDigest(assembleManifest(parts));
  return { ms: performance.now() - t0, digest, errors };
}

function readelf(): number {
  const devnull = openSync('/dev/null', 'w');
  const t0 = performance.now();
  // batches keep the argument list under ARG_MAX; readelf runs once per batch
  for (let i = 0; i < files.length; i += 400) {
    const r = spawnSync(
      'readelf',
      ['-dW', '--dyn-syms', '-V', ...files.slice(i, i + 400).map((f) => f.abs)],
      {
        stdio: ['ignore', devnull, devnull],
        env: { ...process.env, LC_ALL: 'C' },
      },
    );
    if (r.error) throw r.error;
  }
  const ms = performance.now() - t0;
  closeSync(devnull);
  return ms;
}

let bestEos = Infinity;
let bestReadelf = Infinity;
let digest = '';
let errors = 0;
for (let i = 0; i < repeat; i++) {
  const e = eos();
  bestEos = Math.min(bestEos, e.ms);
  digest = e.digest;
  errors = e.errors;
  bestReadelf = Math.min(bestReadelf, readelf());
}
const rate = (ms: number) =>
  `${(files.length / (ms / 1000)).toFixed(0)} files/s, ${(mb / (ms / 1000)).toFixed(0)} MB/s`;
console.log(`tree ${dir}: ${files.length} ELF files, ${mb.toFixed(1)} MB; best of ${repeat}`);
console.log(
  `eos interface:            ${(bestEos / 1000).toFixed(2)} s  (${rate(bestEos)})  manifest ${digest}, ${errors} E15`,
);
console.log(`readelf -dW --dyn-syms -V: ${(bestReadelf / 1000).toFixed(2)} s  (${rate(bestReadelf)})`);
console.log(`ratio readelf/eos: ${(bestReadelf / bestEos).toFixed(2)}  (> 1: Eos is faster)`);
