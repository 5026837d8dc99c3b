/**
 * Interface manifests of trees in the store: a directory ingested into a real filesystem store
 * gives the same manifest from its tree digest as from disk; the manifest is cached under the
 * cache key, re-read from the cache, and a damaged cache entry is recomputed. The CLI accepts the
 * tree digest.
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestHex, Store } from '../../src/kernel/index.ts';
import {
  cachedInterfaceManifest,
  interfaceCacheKey,
  manifestDigest,
  readInterfaceManifest,
  storedInterfaceManifest,
} from '../../extractors/index.ts';
import { demoLibrary, demoProgram } from './elf-builder.ts';

const repo = join(import.meta.dirname, '..', '..');

function makeTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'eos-itree-'));
  mkdirSync(join(dir, 'lib'));
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'lib', 'libdemo.so.1'), demoLibrary(64, 'little'));
  writeFileSync(join(dir, 'lib', 'copy-of-libdemo.so.1'), demoLibrary(64, 'little'));
  symlinkSync('libdemo.so.1', join(dir, 'lib', 'libdemo.so'));
  writeFileSync(join(dir, 'bin', 'demo'), demoProgram(64, 'little'));
  writeFileSync(join(dir, 'README'), 'not ELF\n');
  for (const f of ['/usr/bin/ls', '/usr/lib/x86_64-linux-gnu/libz.so.1'])
    if (existsSync(f)) cpSync(f, join(dir, 'bin', f.split('/').pop()!), { dereference: true });
  chmodSync(join(dir, 'bin', 'demo'), 0o755);
  return dir;
}

describe('interface manifests of stored trees', () => {
  it('a stored tree gives the same manifest as the directory it was ingested from', async () => {
    const src = makeTree();
    const store = new Store(mkdtempSync(join(tmpdir(), 'eos-istore-')));
    const { digest } = await store.ingest(src);
    const fromDisk = readInterfaceManifest(src);
    const fromStore = await storedInterfaceManifest(store, digest);
    expect(fromStore).toEqual(fromDisk);
    expect(fromDisk.provides.sharedObjects.map((o) => o.path)).toEqual(
      [
        'lib/copy-of-libdemo.so.1',
        'lib/libdemo.so.1',
        ...(existsSync(join(src, 'bin', 'libz.so.1')) ? ['bin/libz.so.1'] : []),
      ].sort(),
    );
  });

  it('caches by (extractor identity, tree digest), re-reads, and recomputes a damaged entry', async () => {
    const src = makeTree();
    const store = new Store(mkdtempSync(join(tmpdir(), 'eos-istore-')));
    const { digest } = await store.ingest(src);
    const hex = digestHex(interfaceCacheKey(digest));
    const file = join(store.root, 'cache', 'interface', hex.slice(0, 2), hex.slice(2));
    expect(existsSync(file)).toBe(false);
    const first = await cachedInterfaceManifest(store, digest);
    expect(existsSync(file)).toBe(true);
    expect(manifestDigest(first)).toBe(manifestDigest(readInterfaceManifest(src)));
    expect(await cachedInterfaceManifest(store, digest)).toEqual(first);
    chmodSync(file, 0o644);
    writeFileSync(file, '{"not":"a manifest"}');
    expect(await cachedInterfaceManifest(store, digest)).toEqual(first);
    expect(readFileSync(file, 'utf8')).not.toContain('not');
    expect(interfaceCacheKey(digest)).not.toBe(digest);
  });

  it('eos interface TREE and eos interface check with tree digests', async () => {
    const src = makeTree();
    const storeDir = mkdtempSync(join(tmpdir(), 'eos-istore-'));
    const store = new Store(storeDir);
    const { digest } = await store.ingest(src);
    const eos = join(repo, 'bin', 'eos.mjs');
    const r = spawnSync(eos, ['--store', storeDir, 'interface', digest], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`manifest\t${manifestDigest(readInterfaceManifest(src))}`);
    const c = spawnSync(
      eos,
      ['--store', storeDir, 'interface', 'check', '--old', digest, '--new', digest, '--consumers', digest],
      { encoding: 'utf8' },
    );
    expect(c.status).toBe(0);
    expect(c.stdout).toMatch(/^covered\n/);
  });
});
