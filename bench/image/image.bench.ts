/**
 * bench/image: the composefs writer against its peers, in one run.
 *
 * 1. The writer on the 64k-entry `cs9-x86_64-developer` vector (parse and encode; wall and CPU
 *    time, first and best of 5), against mkcomposefs's 0.49 s (the reference figure for this
 *    machine kind: mkcomposefs is not installable here, so it cannot run in this script).
 * 2. The same directory trees through `mkfs.erofs` and through Eos (`treeFromDirectory`, which
 *    reads and fs-verity-hashes every file, + `encodeImage` + write; and with `--objects`
 *    copying), for a synthetic 100k-file tree and /usr/include.
 * 3. Mount time: composefs (erofs loop + overlay) vs plain erofs, and a full stat walk of each.
 *
 * Run: `npx tsx bench/image/image.bench.ts [--files N]` (root for the mount part).
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  lstatSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  encodeImage,
  mountImage,
  parseDump,
  treeFromDirectory,
  unmountImage,
} from '../../composer/composefs/index.ts';
import { writeFileAtomic } from '../../src/kernel/index.ts';
import type { ComposefsTree } from '../../composer/composefs/index.ts';
import { materialize, randomTree } from '../../tests/composefs/random-tree.ts';

const MKCOMPOSEFS_CS9_SECONDS = 0.49;
const root = join(import.meta.dirname, '..', '..');
const args = process.argv.slice(2);
const files = Number(args[args.indexOf('--files') + 1] ?? 100_000) || 100_000;

interface Timing {
  wallS: number;
  cpuS: number;
}

async function timed<T>(fn: () => T | Promise<T>): Promise<[T, Timing]> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const v = await fn();
  const wallS = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return [v, { wallS, cpuS: (c.user + c.system) / 1e6 }];
}

/** CPU seconds used by waited-for children so far (cutime + cstime from /proc/self/stat). */
function childrenCpuS(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

function childTime(cmd: string, argv: string[]): Timing {
  const c0 = childrenCpuS();
  const t0 = performance.now();
  execFileSync(cmd, argv, { stdio: 'ignore' });
  return { wallS: (performance.now() - t0) / 1000, cpuS: childrenCpuS() - c0 };
}

const f = (s: number) => s.toFixed(3);
const wc = (t: Timing) => `${f(t.wallS)}/${f(t.cpuS)}`;
const line = (...cols: (string | number)[]) => console.log(cols.join('\t'));

function walk(dir: string): number {
  let n = 0;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      n++;
      if (st.isDirectory()) stack.push(p);
    }
  }
  return n;
}

const work = mkdtempSync(join(tmpdir(), 'eos-bench-image-'));
try {
  console.log(
    `# bench/image (load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`,
  );

  // 1. cs9-x86_64-developer.dump.gz
  const dump = gunzipSync(
    readFileSync(join(root, '..', 'shared', 'vectors', 'composefs', 'cs9-x86_64-developer.dump.gz')),
  );
  const parse: Timing[] = [];
  const encode: Timing[] = [];
  let image: Uint8Array = new Uint8Array();
  for (let i = 0; i < 5; i++) {
    const [tree, tp] = await timed(() => parseDump(dump));
    const [img, te] = await timed(() => encodeImage(tree));
    parse.push(tp);
    encode.push(te);
    image = img;
  }
  const best = (ts: Timing[], k: keyof Timing) => Math.min(...ts.map((t) => t[k]));
  line('cs9-developer', 'step', 'first wall s', 'best wall s', 'best cpu s', 'vs mkcomposefs 0.49 s');
  line('', 'parseDump', f(parse[0]!.wallS), f(best(parse, 'wallS')), f(best(parse, 'cpuS')), '');
  line(
    '',
    'encodeImage',
    f(encode[0]!.wallS),
    f(best(encode, 'wallS')),
    f(best(encode, 'cpuS')),
    (best(encode, 'wallS') / MKCOMPOSEFS_CS9_SECONDS).toFixed(2) + 'x',
  );
  const both = best(parse, 'wallS') + best(encode, 'wallS');
  line(
    '',
    'parse+encode',
    f(parse[0]!.wallS + encode[0]!.wallS),
    f(both),
    f(best(parse, 'cpuS') + best(encode, 'cpuS')),
    (both / MKCOMPOSEFS_CS9_SECONDS).toFixed(2) + 'x',
  );
  line('', 'image bytes', image.length);

  // 2. directory trees: mkfs.erofs vs Eos
  const trees: { name: string; dir: string }[] = [];
  const synth = join(work, 'synth');
  mkdirSync(synth);
  const [, tgen] = await timed(() =>
    materialize(randomTree({ files, seed: 42, maxFileBytes: 4096 }), synth, 42),
  );
  console.log(`# synthetic tree: ${files} files written in ${f(tgen.wallS)} s`);
  trees.push({ name: `synthetic-${files}`, dir: synth });
  if (existsSync('/usr/include')) trees.push({ name: '/usr/include', dir: '/usr/include' });
  line(
    'tree',
    'entries',
    'mkfs.erofs wall/cpu s',
    'eos wall/cpu s',
    'eos --objects wall/cpu s',
    'encode-only wall/cpu s',
    'eos/mkfs.erofs wall, cpu',
    'image bytes eos/erofs',
  );
  const images: { name: string; cfs: string; erofs: string; objects: string }[] = [];
  for (const t of trees) {
    const erofs = join(work, `${images.length}.erofs`);
    const cfs = join(work, `${images.length}.cfs`);
    const objects = join(work, `${images.length}.objects`);
    const mkfs = childTime('mkfs.erofs', ['--quiet', erofs, t.dir]);
    const [tree, teos] = await timed(async () => {
      const tr = await treeFromDirectory(t.dir);
      await writeFileAtomic(cfs, encodeImage(tr));
      return tr;
    });
    const [, tobj] = await timed(async () => {
      const tr: ComposefsTree = await treeFromDirectory(t.dir, { objectsDir: objects });
      await writeFileAtomic(cfs, encodeImage(tr));
    });
    const [, tenc] = await timed(() => encodeImage(tree));
    line(
      t.name,
      walk(t.dir),
      wc(mkfs),
      wc(teos),
      wc(tobj),
      wc(tenc),
      `${(teos.wallS / mkfs.wallS).toFixed(2)}x, ${(teos.cpuS / mkfs.cpuS).toFixed(2)}x`,
      `${statSync(cfs).size}/${statSync(erofs).size}`,
    );
    images.push({ name: t.name, cfs, erofs, objects });
  }

  // 3. mount time
  if (process.getuid?.() !== 0) console.log('# mount timing skipped: needs root');
  else {
    line(
      'mount',
      'composefs mount s',
      'walk s',
      'umount s',
      'erofs mount s',
      'walk s',
      'composefs/erofs mount',
    );
    for (const im of images) {
      const mnt = join(work, 'mnt');
      mkdirSync(mnt, { recursive: true });
      const [, tm] = await timed(() => mountImage(im.cfs, im.objects, mnt));
      const [n1, tw] = await timed(() => walk(mnt));
      const [, tu] = await timed(() => unmountImage(mnt));
      const em = childTime('mount', ['-t', 'erofs', '-o', 'ro,loop', im.erofs, mnt]);
      const [n2, tw2] = await timed(() => walk(mnt));
      childTime('umount', [mnt]);
      if (n1 !== n2) console.log(`# ${im.name}: composefs shows ${n1} entries, erofs ${n2}`);
      line(
        im.name,
        f(tm.wallS),
        f(tw.wallS),
        f(tu.wallS),
        f(em.wallS),
        f(tw2.wallS),
        (tm.wallS / em.wallS).toFixed(2) + 'x',
      );
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
