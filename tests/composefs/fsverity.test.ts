import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsVerityHasher, computeFsVerityDigest } from '../../composer/composefs/index.ts';
import { setup } from './helpers.ts';

let dir: string;
let haveTool = false;
beforeAll(() => {
  setup();
  dir = mkdtempSync(join(tmpdir(), 'eos-fsverity-'));
  try {
    execFileSync('fsverity', ['--version'], { stdio: 'ignore' });
    haveTool = true;
  } catch {
    console.warn('fsverity (fsverity-utils) is not installed: comparing against the pinned digests only');
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

describe('fs-verity digests', () => {
  const sizes = [0, 1, 100, 4095, 4096, 4097, 128 * 4096, 128 * 4096 + 1, 129 * 4096 + 7, 3_000_000];
  for (const n of sizes)
    it(`matches fsverity digest for ${n} bytes, one-shot and streamed`, async () => {
      const bytes = pattern(n);
      const d = Buffer.from(computeFsVerityDigest(bytes)).toString('hex');
      const h = new FsVerityHasher();
      for (let i = 0; i < n; i += 1000 + (i % 7))
        h.update(bytes.subarray(i, Math.min(n, i + 1000 + (i % 7))));
      expect(Buffer.from(h.digest()).toString('hex')).toBe(d);
      async function* chunks() {
        for (let i = 0; i < n; i += 65536) yield bytes.subarray(i, i + 65536);
      }
      expect(Buffer.from(await computeFsVerityDigest(chunks())).toString('hex')).toBe(d);
      if (haveTool) {
        const f = join(dir, `f${n}`);
        writeFileSync(f, bytes);
        const out = execFileSync('fsverity', ['digest', '--hash-alg=sha256', '--block-size=4096', f], {
          encoding: 'utf8',
        });
        expect(out.split(' ')[0]).toBe(`sha256:${d}`);
      }
    });

  it('pins the digest of 10 KB of the test pattern', () => {
    expect(Buffer.from(computeFsVerityDigest(pattern(10_000))).toString('hex')).toMatchInlineSnapshot(
      `"20ebfc56ebf564d4b8e4368d710de733f310ee48e9dbc4c164613de53a05898a"`,
    );
  });
});
