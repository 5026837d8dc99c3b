import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDump, parseDump } from '../../composer/composefs/index.ts';
import { fsck, repoRoot, vectors, vectorsDir } from './helpers.ts';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'eos-cfs-cli-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function eos(...args: string[]) {
  const r = spawnSync(join(repoRoot, 'bin', 'eos.mjs'), args, {
    encoding: 'buffer',
    cwd: repoRoot,
    maxBuffer: 1 << 28,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

describe('eos image', () => {
  it('--from-dump writes the reference image of a gzipped vector and --dump prints it back', () => {
    const v = vectors().find((x) => x.name === 'config-with-hard-link.dump.gz')!;
    const out = join(work, 'config.cfs');
    const r = eos('image', '--from-dump', v.path, '-o', out);
    expect(r.stderr).not.toMatch(/E\d+/);
    expect(r.status).toBe(0);
    expect(createHash('sha256').update(readFileSync(out)).digest('hex')).toBe(v.sha256);
    expect(r.stdout.toString()).toMatch(
      new RegExp(`^ok\\t${out}\\t1658880\\tsha256:${v.sha256}\\tfsverity:[0-9a-f]{64}\\n$`),
    );
    const d = eos('image', '--dump', out);
    expect(d.status).toBe(0);
    expect(d.stdout.toString()).toBe(encodeDump(parseDump(d.stdout)));
    // a plain (not gzipped) copy of the printed dump gives the same image again
    const dumpFile = join(work, 'again.dump.gz');
    writeFileSync(dumpFile, gzipSync(d.stdout));
    expect(eos('image', '--from-dump', dumpFile, '-o', join(work, 'again.cfs')).status).toBe(0);
    expect(Buffer.compare(readFileSync(join(work, 'again.cfs')), readFileSync(out))).toBe(0);
  });

  it('--min-version/--max-version select the format version', () => {
    const out = join(work, 'special0.cfs');
    expect(
      eos('image', '--from-dump', join(vectorsDir, 'special.dump'), '-o', out, '--max-version', '0').status,
    ).toBe(0);
    const want = readFileSync(join(vectorsDir, 'special.dump.sha256'), 'utf8').split(/\s/)[0];
    expect(createHash('sha256').update(readFileSync(out)).digest('hex')).toBe(want);
  });

  it('--from-dir writes an image and fills the objects directory', () => {
    const src = join(work, 'tree');
    mkdirSync(join(src, 'd'), { recursive: true });
    writeFileSync(join(src, 'd', 'big'), Buffer.alloc(10_000, 7));
    writeFileSync(join(src, 'small'), 'hi\n');
    const objects = join(work, 'objects');
    const out = join(work, 'dir.cfs');
    const r = eos('image', '--from-dir', src, '-o', out, '--objects', objects);
    expect(r.status).toBe(0);
    const dump = eos('image', '--dump', out).stdout.toString();
    const m = /^\/d\/big 10000 100644 1 0 0 0 \d+\.\d+ ([0-9a-f]{2})\/([0-9a-f]{62}) - (\1\2)$/m.exec(dump);
    expect(m).not.toBeNull();
    expect(readFileSync(join(objects, m![1]!, m![2]!))).toEqual(Buffer.alloc(10_000, 7));
    expect(dump).toMatch(/^\/small 3 100644 1 0 0 0 \d+\.\d+ - hi\\n -$/m);
    const f = fsck(out);
    expect(f.output).toBe('');
    expect(f.ok).toBe(true);
  });

  it('reports bad input as one located error line', () => {
    const bad = join(work, 'bad.dump');
    writeFileSync(bad, '/ 4096 40755 2 0 0 0 0.0 - - -\n/x/y 0 100644 1 0 0 0 0.0 - - -\n');
    const r = eos('image', '--from-dump', bad, '-o', join(work, 'bad.cfs'));
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`eos: [E14] ${bad}: dump line 2: parent directory missing for /x/y\n`);
    const notImage = eos('image', '--dump', bad);
    expect(notImage.status).toBe(1);
    expect(notImage.stderr).toMatch(/^eos: \[E14\] .*bad\.dump: composefs image: /);
    expect(eos('image').status).toBe(2);
  });
});
