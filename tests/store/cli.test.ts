// `eos store …` through the real executable: output lines, exit codes, errors, verify/repair,
// concurrent ingests and the kill test (specs/store.md §4.3, §8, §9, §11).
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestBytes, Store } from '../../src/kernel/index.ts';
import { buildGolden, GOLDEN_DIGEST, snapshot, tempDir } from '../helpers/fs.ts';
import { buildBulk, eos, eosAsync, ingestKillRun } from './kill-run.ts';

const SUB_BYTES =
  '{"entries":[{"kind":"symlink","name":"up","target":"../hello.txt"},{"digest":"blake3:8e4c7c1b99dbfd50e7a95185fead5ee1448fa904a2fdd778eaf5f2dbfd629a99","executable":false,"kind":"file","name":"ﬁ","size":6},{"digest":"blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262","executable":false,"kind":"file","name":"😀","size":0}],"version":1}';

describe('eos store (CLI)', () => {
  it('add, ls, cat, export, stats, root, gc: lines and exit codes', () => {
    const store = join(tempDir(), 'store');
    const src = tempDir();
    buildGolden(src);
    const add = eos(store, 'store', 'add', src);
    expect(add).toMatchObject({ code: 0, stdout: `${GOLDEN_DIGEST}\n`, stderr: '' });
    const json = JSON.parse(eos(store, '--json', 'store', 'add', src).stdout);
    expect(json).toMatchObject({
      version: 1,
      digest: GOLDEN_DIGEST,
      kind: 'directory',
      files: 5,
      written: 0,
    });

    const ls = eos(store, 'store', 'ls', GOLDEN_DIGEST);
    expect(ls.code).toBe(0);
    expect(ls.stdout.split('\n')).toEqual([
      `-rw-r--r--\t0\t${digestBytes('')}\tZero`,
      'lrwxrwxrwx\t19\t-\tdangling -> /nonexistent/target',
      'drwxr-xr-x\t0\tblake3:a6968d6d767077a26148a60d1806c872326b0812aa4fd017c0f361917ee44571\tempty-dir',
      `-rw-r--r--\t6\t${digestBytes('hello\n')}\thello.txt`,
      `-rwxr-xr-x\t18\t${digestBytes('#!/bin/sh\necho hi\n')}\trun.sh`,
      'drwxr-xr-x\t3\tblake3:95972b57d19f4082abd0544062597c4698d717ae6a01116b5bdd105598222aaf\tsub',
      '',
    ]);
    expect(JSON.parse(eos(store, '--json', 'store', 'ls', GOLDEN_DIGEST).stdout).entries).toHaveLength(6);

    expect(eos(store, 'store', 'cat', digestBytes('hello\n')).stdout).toBe('hello\n');
    expect(
      eos(store, 'store', 'cat', 'blake3:95972b57d19f4082abd0544062597c4698d717ae6a01116b5bdd105598222aaf')
        .stdout,
    ).toBe(SUB_BYTES);

    const out = join(tempDir(), 'out');
    const ex = eos(store, 'store', 'export', GOLDEN_DIGEST, out);
    expect(ex.code).toBe(0);
    expect(ex.stdout).toBe(`ok\t${out}\n`);
    expect(snapshot(out)).toEqual(snapshot(src));
    const single = join(tempDir(), 'single');
    expect(eos(store, 'store', 'export', digestBytes('hello\n'), single).code).toBe(0);
    expect(readFileSync(single, 'utf8')).toBe('hello\n');

    const stats = eos(store, 'store', 'stats');
    expect(stats.code).toBe(0);
    expect(stats.stdout).toContain('blobs\t3\n');
    expect(stats.stdout).toContain('trees\t3\n');
    expect(JSON.parse(eos(store, '--json', 'store', 'stats').stdout)).toMatchObject({
      version: 1,
      blobs: 3,
      trees: 3,
    });

    expect(eos(store, 'store', 'root', 'add', 'golden', GOLDEN_DIGEST).code).toBe(0);
    expect(eos(store, 'store', 'root', 'ls').stdout).toBe(`golden\t${GOLDEN_DIGEST}\n`);
    const gc = eos(store, 'store', 'gc', '--grace', '0');
    expect(gc.code).toBe(0);
    expect(gc.stdout).toContain('blobsRemoved\t0\n');
    expect(eos(store, 'store', 'root', 'rm', 'golden').code).toBe(0);
    const gc2 = JSON.parse(eos(store, '--json', 'store', 'gc', '--grace', '0').stdout);
    expect(gc2).toMatchObject({ version: 1, blobsRemoved: 3, treesRemoved: 3 });
    expect(eos(store, 'store', 'gc', '--grace', 'soon')).toMatchObject({ code: 2 });
  });

  it('prints one clean line for a bad digest (E2), a missing object (E4) and bad usage', () => {
    const store = join(tempDir(), 'store');
    const bad = eos(store, 'store', 'cat', 'sha256:abc');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toBe(
      'eos: [E2] DIGEST: "sha256:abc" is not a digest (expected blake3:<64 lowercase hex>)\n',
    );
    const upper = eos(store, 'store', 'ls', 'blake3:' + 'A'.repeat(64));
    expect(upper.code).toBe(1);
    expect(upper.stderr).toMatch(/^eos: \[E2\] [^\n]*\n$/);
    const missing = digestBytes('not stored');
    for (const verb of ['cat', 'ls']) {
      const r = eos(store, 'store', verb, missing);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^eos: \\[E4\\] [^\\n]*${missing}[^\\n]*\\n$`));
    }
    const ex = eos(store, 'store', 'export', missing, join(tempDir(), 'x'));
    expect(ex.code).toBe(1);
    expect(ex.stderr).toMatch(/^eos: \[E4\] /);
    const j = eos(store, '--json', 'store', 'cat', missing);
    expect(JSON.parse(j.stdout).error.code).toBe('E4');
    expect(eos(store, 'store', 'add', '/definitely/not/here')).toMatchObject({ code: 1 });
    expect(eos(store, 'store', 'add').code).toBe(2);
  });

  it('verify names a flipped byte and exits 1; --repair removes it; a new ingest restores it', () => {
    const store = join(tempDir(), 'store');
    const src = tempDir();
    buildGolden(src);
    writeFileSync(join(src, 'data.bin'), randomBytes(3 << 20));
    expect(eos(store, 'store', 'add', src).code).toBe(0);
    expect(eos(store, 'store', 'verify')).toMatchObject({ code: 0 });
    const victim = digestBytes(readFileSync(join(src, 'data.bin')));
    const s = new Store(store);
    const p = s.blobPath(victim);
    chmodSync(p, 0o644);
    const bytes = readFileSync(p);
    bytes[1234567] = bytes[1234567]! ^ 0x40;
    writeFileSync(p, bytes);

    const v = eos(store, 'store', 'verify');
    expect(v.code).toBe(1);
    expect(v.stdout).toContain(`FAIL\tblob\t${victim}\t${p}\tcontent hashes to blake3:`);
    expect(v.stderr).toContain('2 problems'); // the blob, and the tree naming it (incomplete)
    const rep = eos(store, 'store', 'verify', '--repair');
    expect(rep.code).toBe(1);
    expect(rep.stdout).toContain(`REMOVED\tblob\t${victim}`);
    expect(eos(store, 'store', 'verify').code).toBe(1); // the tree naming it is incomplete until re-ingested
    expect(eos(store, 'store', 'add', src).code).toBe(0);
    const ok = eos(store, 'store', 'verify');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(
      /^ok\tchecked \d+ blobs, \d+ trees, \d+ twins, \d+ images, \d+ views, \d+ worlds: 0 problems\n$/,
    );
  });

  it('two processes ingesting overlapping trees at once both succeed; the store verifies', async () => {
    const store = join(tempDir(), 'store');
    const a = tempDir();
    const b = tempDir();
    buildBulk(a, 'a');
    buildBulk(b, 'b');
    writeFileSync(join(b, 'large'), readFileSync(join(a, 'large'))); // shared content
    const ref = new Store(join(tempDir(), 'ref'));
    const [da, db] = [(await ref.ingest(a)).digest, (await ref.ingest(b)).digest];
    const runs = await Promise.all([
      eosAsync(store, ['store', 'add', a]),
      eosAsync(store, ['store', 'add', b]),
      eosAsync(store, ['store', 'add', a]),
    ]);
    expect(runs.map((r) => [r.code, r.stdout.trim()])).toEqual([
      [0, da],
      [0, db],
      [0, da],
    ]);
    expect(eos(store, 'store', 'verify').code).toBe(0);
  }, 120_000);

  it('kill test: 20 SIGKILLs at random moments of real ingests leave a store that verifies clean', async () => {
    const store = join(tempDir(), 'store');
    const src = tempDir();
    buildBulk(src, 'kill');
    const expected = (await new Store(join(tempDir(), 'ref')).ingest(src)).digest;
    // time a bare start (node + commander) and a whole ingest, so the kills land inside the ingest
    const t0 = Date.now();
    eos(store, '--version');
    const startMs = Date.now() - t0;
    const t1 = Date.now();
    const full = eos(join(tempDir(), 'timing'), 'store', 'add', src);
    const fullMs = Date.now() - t1;
    expect(full.stdout.trim()).toBe(expected);

    // 4 rounds of 5 concurrent ingests, each killed at a random moment, every other round from an
    // emptied store; more rounds while no kill has landed in the middle of writing an object
    // (tests/store/kill-run.ts; the 50-kill run is bench/ingest/kill.ts).
    const r = await ingestKillRun(store, src, 4, { startMs, fullMs });
    console.log(`store kill run: ${r.rounds} rounds, ${r.killed} killed, ${r.litter} temp files left`);
    expect(r.failures).toEqual([]);
    expect(r.killed, 'children killed mid-run').toBeGreaterThanOrEqual(10);
    expect(r.litter, 'temp files left by kills in the middle of writing an object').toBeGreaterThan(0);
    const v = eos(store, 'store', 'verify');
    expect(v.stdout).toMatch(/^ok\t/);
    expect(v.code).toBe(0);
    const final = eos(store, 'store', 'add', src);
    expect(final).toMatchObject({ code: 0, stdout: `${expected}\n` });
    expect(eos(store, 'store', 'verify').code).toBe(0);
    const out = join(tempDir(), 'out');
    expect(eos(store, 'store', 'export', expected, out).code).toBe(0);
    expect(snapshot(out)).toEqual(snapshot(src));
  }, 300_000);
});
