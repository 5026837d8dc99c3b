// digestPath: the store digest of a path computed in memory, without a store (specs/store.md §3,
// §6). It must give exactly the digest `Store.ingest` gives, and refuse what ingest refuses.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestBytes, digestPath, EosError, Store } from '../../src/kernel/index.ts';
import { buildGolden, GOLDEN_DIGEST, tempDir } from '../helpers/fs.ts';
import { codeOfSync } from '../helpers/error-code.ts';

describe('digestPath (specs/store.md §3, §6)', () => {
  it('gives the golden tree its spec digest', () => {
    const a = tempDir();
    buildGolden(a);
    expect(digestPath(a)).toEqual({ digest: GOLDEN_DIGEST, kind: 'directory' });
  });

  it('agrees with Store.ingest on unicode names, empty dirs, exec bits, symlinks, hard links and a multi-chunk file', async () => {
    const src = tempDir();
    buildGolden(src);
    mkdirSync(join(src, 'deep', 'er', 'est'), { recursive: true });
    mkdirSync(join(src, 'Ünïcødé ☃ 日本語'));
    writeFileSync(join(src, 'Ünïcødé ☃ 日本語', 'façade.txt'), 'ça va\n');
    symlinkSync('../../escape/../x', join(src, 'deep', 'rel-link'));
    symlinkSync('/absolute/dangling', join(src, 'abs-link'));
    writeFileSync(join(src, 'deep', 'tool'), randomBytes(5000), { mode: 0o755 });
    linkSync(join(src, 'deep', 'tool'), join(src, 'tool-link'));
    writeFileSync(join(src, 'big.bin'), randomBytes(3 * (1 << 20) + 17)); // three reads and a bit
    writeFileSync(join(src, 'exactly-1MiB'), randomBytes(1 << 20));
    writeFileSync(join(src, 'empty'), '');
    const store = new Store(join(tempDir(), 's'));
    const want = (await store.ingest(src)).digest;
    expect(digestPath(src)).toEqual({ digest: want, kind: 'directory' });
    // a single file is its blob's digest
    expect(digestPath(join(src, 'big.bin')).digest).toBe((await store.ingest(join(src, 'big.bin'))).digest);
    expect(digestPath(join(src, 'empty'))).toEqual({ digest: digestBytes(''), kind: 'file' });
    // it wrote nothing anywhere near the source
    expect(readdirSync(src).sort()).toContain('big.bin');
  });

  it('with a budget, gives up (undefined) past the entries or bytes it may read, and only then', () => {
    const a = tempDir();
    buildGolden(a);
    writeFileSync(join(a, 'blob'), randomBytes(1000));
    const n = readdirSync(a, { recursive: true }).length; // every entry below the root
    const full = digestPath(a);
    expect(digestPath(a, { entries: n, bytes: 1 << 20 })).toEqual(full);
    expect(digestPath(a, { entries: n - 1, bytes: 1 << 20 })).toBeUndefined();
    expect(digestPath(a, { entries: 100, bytes: 999 })).toBeUndefined();
    expect(digestPath(join(a, 'blob'), { entries: 0, bytes: 1000 })?.digest).toBe(
      digestPath(join(a, 'blob')).digest,
    );
  });

  it('refuses FIFOs, non-UTF-8 names and a symlink or FIFO as the root with E6, an absent path with E4', () => {
    const a = tempDir();
    execFileSync('mkfifo', [join(a, 'pipe')]);
    let err: unknown;
    try {
      digestPath(a);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EosError);
    expect((err as EosError).code).toBe('E6');
    expect((err as EosError).message).toContain(join(a, 'pipe'));
    expect(codeOfSync(() => digestPath(join(a, 'pipe')))).toBe('E6');

    const c = tempDir();
    writeFileSync(Buffer.from(join(c, 'bad-\xff-name'), 'latin1'), 'x');
    expect(codeOfSync(() => digestPath(c))).toBe('E6');

    const d = tempDir();
    symlinkSync(c, join(d, 'link'));
    expect(codeOfSync(() => digestPath(join(d, 'link')))).toBe('E6');
    expect(codeOfSync(() => digestPath(join(d, 'absent')))).toBe('E4');
  });
});
