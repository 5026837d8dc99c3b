/**
 * Fixed-output sources: a pin that does not match is E13 naming both digests and stores nothing;
 * a matching source is stored once and never fetched again; source specs are validated.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store, digestBytes, type Digest } from '../../src/kernel/index.ts';
import { fetchSource, parseSourceSpec } from '../../executor/index.ts';

function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d, { withFileTypes: true }).map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
    } catch {
      return;
    }
    for (const n of names) {
      if (n.endsWith('/')) walk(join(d, n));
      else out.push(join(d, n));
    }
  };
  walk(dir);
  return out;
}

describe('fixed-output sources', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'eos-fetch-'));
  const tarball = join(tmp, 'upstream-1.0.tar');
  const bytes = Buffer.from('pretend these are the release bytes\n');
  writeFileSync(tarball, bytes);
  const right = digestBytes(bytes);
  const wrong = digestBytes('other bytes');

  it('a mismatching file is E13 with both digests, and nothing is stored', async () => {
    const store = new Store(join(tmp, 'store1'));
    const err = await fetchSource({ kind: 'path', path: tarball, digest: wrong }, { store }).then(
      () => {
        throw new Error('expected a failure');
      },
      (e: unknown) => e as Error & { code: string },
    );
    expect(err.code).toBe('E13');
    expect(err.message).toContain(`expected ${wrong}`);
    expect(err.message).toContain(`got ${right}`);
    expect(await store.hasBlob(right)).toBe(false);
    expect(files(join(store.root, 'objects'))).toEqual([]);
    expect(files(join(store.root, 'tmp'))).toEqual([]);
  });

  it('a mismatching directory is E13 and stores nothing', async () => {
    const store = new Store(join(tmp, 'store2'));
    const d = join(tmp, 'srcdir');
    mkdirSync(d);
    writeFileSync(join(d, 'main.c'), 'int main(void){return 0;}\n');
    const err = await fetchSource({ kind: 'path', path: d, digest: wrong }, { store }).then(
      () => {
        throw new Error('expected a failure');
      },
      (e: unknown) => e as Error & { code: string },
    );
    expect(err.code).toBe('E13');
    expect(err.message).toMatch(/expected blake3:[0-9a-f]{64}, got blake3:[0-9a-f]{64}/);
    expect(files(join(store.root, 'objects'))).toEqual([]);
    expect(files(join(store.root, 'trees'))).toEqual([]);
  });

  it('a matching source is stored once and then served from the store', async () => {
    const store = new Store(join(tmp, 'store3'));
    const copy = join(tmp, 'copy.tar');
    writeFileSync(copy, bytes);
    const a = await fetchSource({ kind: 'path', path: copy, digest: right }, { store });
    expect(a).toMatchObject({ digest: right, kind: 'file', cached: false });
    rmSync(copy); // gone from the host: the second fetch must not need it
    const b = await fetchSource({ kind: 'path', path: copy, digest: right }, { store });
    expect(b).toMatchObject({ digest: right, kind: 'file', cached: true });
  });

  it('a git source is the tree of a commit; a wrong pin is E13', async () => {
    const repo = join(tmp, 'repo');
    mkdirSync(join(repo, 'src'), { recursive: true });
    writeFileSync(join(repo, 'src', 'lib.c'), 'int f(void) { return 42; }\n');
    writeFileSync(join(repo, 'configure'), '#!/bin/sh\necho ok\n', { mode: 0o755 });
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@e', ...args])
        .toString()
        .trim();
    git('init', '-q');
    git('add', '-A');
    git('commit', '-qm', 'one');
    const commit = git('rev-parse', 'HEAD');
    // The expected tree: the same files ingested from a plain copy (no .git).
    const plain = join(tmp, 'plain');
    mkdirSync(join(plain, 'src'), { recursive: true });
    writeFileSync(join(plain, 'src', 'lib.c'), 'int f(void) { return 42; }\n');
    writeFileSync(join(plain, 'configure'), '#!/bin/sh\necho ok\n', { mode: 0o755 });
    const want = (await new Store(join(tmp, 'probe-git')).ingest(plain, { fsync: false })).digest;
    const store = new Store(join(tmp, 'store-git'));
    const err = await fetchSource({ kind: 'git', url: repo, commit, digest: wrong }, { store }).then(
      () => {
        throw new Error('expected a failure');
      },
      (e: unknown) => e as Error & { code: string },
    );
    expect(err.code).toBe('E13');
    expect(err.message).toContain(`got ${want}`);
    expect(await store.hasTree(want)).toBe(false);
    const ok = await fetchSource({ kind: 'git', url: repo, commit, digest: want }, { store });
    expect(ok).toMatchObject({ kind: 'tree', cached: false, digest: want });
    expect(await store.hasTree(want)).toBe(true);
  });

  it('validates source specifications', () => {
    const d = right as Digest;
    expect(
      parseSourceSpec({ kind: 'debian-source', package: 'zlib', version: '1:1.2.13.dfsg-1', digest: d }),
    ).toEqual({
      kind: 'debian-source',
      package: 'zlib',
      version: '1:1.2.13.dfsg-1',
      digest: d,
    });
    expect(() => parseSourceSpec({ kind: 'ftp', digest: d }, 'atom.toml: source[0]')).toThrow(
      /\[E16\] atom.toml: source\[0\].kind/,
    );
    expect(() => parseSourceSpec({ kind: 'git', url: 'x', commit: 'abc', digest: d })).toThrow(/commit/);
    expect(() => parseSourceSpec({ kind: 'path', path: 'x', digest: 'sha256:00' })).toThrow(/\[E2\]/);
  });
});
