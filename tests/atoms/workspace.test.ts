import { spawn, spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  LockError,
  MemoryStore,
  ResolutionError,
  emptyTrustPolicy,
  readKeyring,
} from '../../src/kernel/index.ts';
import {
  checkWorkspaceLock,
  claimLabel,
  loadLockedAtoms,
  lockWorkspace,
  openRepo,
  parseLock,
  publishAtom,
  signerFromKey,
  verifierFrom,
  verifierFromConfig,
  type AtomVerifier,
} from '../../atoms/index.ts';
import {
  commitAll,
  gitCli,
  makeConfig,
  makeRepo,
  manifest,
  repoRoot,
  startGitHttpServer,
  tempDir,
  writeFiles,
} from './fixture.ts';

let config: string;
let verifier: AtomVerifier;
let setDir: string;

async function publish(
  dir: string,
  path: string,
  label: string,
  version: string,
  deps: Record<string, string> = {},
) {
  writeFiles(dir, {
    [`${path}/atom.toml`]: manifest(label, version, deps),
    [`${path}/VERSION`]: version + '\n',
  });
  commitAll(dir, `${label} ${version}`);
  const repo = await openRepo(dir);
  const alice = await signerFromKey(config, 'alice');
  await claimLabel(repo, label, alice);
  return publishAtom(repo, join(dir, path), alice);
}

beforeAll(async () => {
  ({ config } = await makeConfig(['alice'], ['alice']));
  verifier = await verifierFromConfig(config);
  setDir = makeRepo({ 'README.md': 'the atom set\n' });
  await publish(setDir, 'zlib', 'zlib', '1.2.13');
  await publish(setDir, 'zlib', 'zlib', '1.3.1');
  await publish(setDir, 'openssl', 'openssl', '3.0.20');
  await publish(setDir, 'openssl', 'openssl', '3.0.22');
  await publish(setDir, 'curl', 'curl', '7.88.1', { openssl: '^3.0', zlib: '^1.2' });
  await publish(setDir, 'unused', 'unused', '1.0.0');
});

function workspace(deps: Record<string, string>): string {
  const dir = tempDir('ws');
  writeFiles(dir, { 'atom.toml': manifest('app', '0.1.0', deps) });
  return dir;
}

async function lockError(p: Promise<unknown>): Promise<LockError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(LockError);
    return e as LockError;
  }
  throw new Error('expected a LockError');
}

describe('eos lock', () => {
  it('resolves a workspace against a set, verifies the pins, and is byte-identical across runs', async () => {
    const ws = workspace({ curl: '^7', openssl: '=3.0.20' });
    const r = await lockWorkspace({ root: ws, sets: { main: `file://${setDir}` }, verifier });
    expect(r.changed).toBe(true);
    const text = readFileSync(join(ws, 'eos.lock'), 'utf8');
    expect(text).toBe(r.text);
    const lock = parseLock(text);
    expect(Object.fromEntries(Object.entries(lock.atoms).map(([l, a]) => [l, a.version]))).toEqual({
      curl: '7.88.1',
      openssl: '3.0.20',
      zlib: '1.3.1',
    });
    expect(lock.atoms.curl!.deps).toEqual(['openssl', 'zlib']);
    expect(lock.workspace).toEqual({ app: { path: '.', version: '0.1.0', deps: ['curl', 'openssl'] } });
    expect(lock.sets.main).toEqual({
      url: `file://${setDir}`,
      commit: gitCli(setDir, ['rev-parse', 'refs/eos/set']),
    });
    // Again: nothing changes. In a copy of the workspace: the same bytes.
    expect((await lockWorkspace({ root: ws, verifier })).changed).toBe(false);
    const copy = tempDir('ws-copy');
    cpSync(join(ws, 'atom.toml'), join(copy, 'atom.toml'));
    await lockWorkspace({ root: copy, sets: { main: `file://${setDir}` }, verifier });
    expect(readFileSync(join(copy, 'eos.lock'), 'utf8')).toBe(text);
    // And from the CLI, in another process.
    const copy2 = tempDir('ws-cli');
    cpSync(join(ws, 'atom.toml'), join(copy2, 'atom.toml'));
    const cli = spawnSync(join(repoRoot, 'bin', 'eos.mjs'), ['lock', '--set', `main=file://${setDir}`], {
      cwd: copy2,
      encoding: 'utf8',
      env: { ...process.env, EOS_CONFIG_DIR: config },
    });
    expect(cli.stderr).toMatch(/^wrote eos.lock: 3 atom\(s\) from 1 set\(s\); \d+ solver call\(s\)$/m);
    expect(cli.status).toBe(0);
    expect(cli.stdout.split('\n')[0]).toMatch(/^curl\t7\.88\.1\tmain\tblake3:[0-9a-f]{64}$/);
    expect(readFileSync(join(copy2, 'eos.lock'), 'utf8')).toBe(text);
    const check = spawnSync(join(repoRoot, 'bin', 'eos.mjs'), ['lock', '--check'], {
      cwd: copy2,
      encoding: 'utf8',
      env: { ...process.env, EOS_CONFIG_DIR: config },
    });
    expect(check.stdout.trim()).toBe('ok\teos.lock');
    expect(check.status).toBe(0);
  });

  it('--check catches manifests the lock no longer satisfies, and pins that fail verification', async () => {
    const ws = workspace({ curl: '^7', openssl: '=3.0.20' });
    await lockWorkspace({ root: ws, sets: { main: setDir }, verifier });
    await checkWorkspaceLock(ws, verifier);
    writeFiles(ws, { 'atom.toml': manifest('app', '0.1.0', { curl: '^7', openssl: '=3.0.22' }) });
    expect((await lockError(checkWorkspaceLock(ws, verifier))).message).toBe(
      '[E19] eos.lock: app needs openssl =3.0.22 but the lock pins 3.0.20',
    );
    writeFiles(ws, { 'atom.toml': manifest('app', '0.1.0', { curl: '^7', openssl: '=3.0.20', zlib: '^1' }) });
    expect((await lockError(checkWorkspaceLock(ws, verifier))).message).toBe(
      '[E19] eos.lock: app depends on curl, openssl, zlib, but the lock records curl, openssl',
    );
    writeFiles(ws, {
      'lib/atom.toml': manifest('lib', '1.0.0'),
      'atom.toml': manifest('app', '0.1.0', { curl: '^7', openssl: '=3.0.20' }),
    });
    expect((await lockError(checkWorkspaceLock(ws, verifier))).message).toBe(
      '[E19] eos.lock: the workspace atom lib (lib/atom.toml) is not in the lock',
    );
    // `eos lock` brings it up to date; --check passes again.
    await lockWorkspace({ root: ws, verifier });
    await checkWorkspaceLock(ws, verifier);
    // A verifier that trusts nobody: the pinned records fail verification.
    const nobody = verifierFrom(await readKeyring(config), emptyTrustPolicy());
    const e = await lockError(checkWorkspaceLock(ws, nobody));
    expect(e.message).toMatch(
      /^\[E19\] eos.lock: pinned curl@7\.88\.1: claim signature by key blake3:[0-9a-f]{64} \("alice"\) is valid but the key is not trusted for "atoms"/,
    );
    // A hand-edited record digest.
    const text = readFileSync(join(ws, 'eos.lock'), 'utf8');
    const lock = parseLock(text);
    writeFileSync(join(ws, 'eos.lock'), text.replace(lock.atoms.zlib!.record, lock.atoms.openssl!.record));
    expect((await lockError(checkWorkspaceLock(ws, verifier))).message).toMatch(
      /^\[E19\] eos.lock: zlib@1\.3\.1: the lock pins record blake3:[0-9a-f]{64}, but set main has blake3:[0-9a-f]{64}$/,
    );
  });

  it('keeps pins when the set moves on; --update releases one', async () => {
    const set2 = makeRepo({ 'README.md': 'another set\n' });
    await publish(set2, 'zlib', 'zlib', '1.3.1');
    await publish(set2, 'tool', 'tool', '1.0.0', { zlib: '^1' });
    const ws = workspace({ tool: '^1' });
    const first = await lockWorkspace({ root: ws, sets: { s: set2 }, verifier });
    expect(first.lock.atoms.zlib!.version).toBe('1.3.1');
    await publish(set2, 'zlib', 'zlib', '1.4.0');
    const second = await lockWorkspace({ root: ws, verifier });
    expect(second.changed).toBe(true); // the set commit moved
    expect(second.lock.atoms.zlib!.version).toBe('1.3.1');
    expect(second.lock.sets.s!.commit).not.toBe(first.lock.sets.s!.commit);
    const third = await lockWorkspace({ root: ws, update: ['zlib'], verifier });
    expect(third.lock.atoms.zlib!.version).toBe('1.4.0');
    // The old lock still checks out: it names the set commit it was made at.
    await checkWorkspaceLock(ws, verifier);
    expect((await lockError(lockWorkspace({ root: ws, update: ['nope'], verifier }))).message).toBe(
      '[E19] eos.lock: --update nope: nope is not in the lock',
    );
  });

  it('loads the pinned atoms with their manifests and puts their sources into a store', async () => {
    const ws = workspace({ curl: '^7' });
    const r = await lockWorkspace({ root: ws, sets: { main: setDir }, verifier });
    const atoms = await loadLockedAtoms(ws);
    expect(atoms.map((a) => `${a.label}@${a.version}`)).toEqual([
      'curl@7.88.1',
      'openssl@3.0.22',
      'zlib@1.3.1',
    ]);
    const curl = atoms[0]!;
    expect(curl.manifest.deps).toEqual({
      openssl: { range: '^3.0', prerelease: false },
      zlib: { range: '^1.2', prerelease: false },
    });
    expect(curl.manifest.build).toEqual({ recipe: 'std.make', args: {} });
    const store = new MemoryStore();
    for (const a of atoms) {
      const put = await a.putContent(store);
      expect(put.digest).toBe(r.lock.atoms[a.label]!.content);
      expect(await store.trees.has(put.digest)).toBe(true);
    }
    const tree = await store.trees.get(curl.content);
    expect(tree.entries.map((e) => e.name)).toEqual(['VERSION', 'atom.toml']);
  });

  it('explains an unsatisfiable workspace', async () => {
    const set3 = makeRepo({ 'README.md': 'x\n' });
    await publish(set3, 'openssl', 'openssl', '3.0.20');
    await publish(set3, 'openssl', 'openssl', '3.2.1');
    await publish(set3, 'curl', 'curl', '8.5.0', { openssl: '^3.2' });
    const ws = workspace({ curl: '^8', openssl: '=3.0.20' });
    await expect(lockWorkspace({ root: ws, sets: { main: set3 }, verifier })).rejects.toThrow(
      ResolutionError,
    );
    await expect(lockWorkspace({ root: ws, sets: { main: set3 }, verifier })).rejects.toThrow(
      '[E17] app needs curl ^8; curl 8.5.0 needs openssl ^3.2, but app pins openssl =3.0.20',
    );
  });
});

describe('atom sets over HTTP', () => {
  it('locks against a set served by a git HTTP server on 127.0.0.1, and verifies from the fetched set', async () => {
    const served = tempDir('served');
    // The served repository is a bare mirror of the set (what a hosting service would hold).
    gitCli(served, ['clone', '-q', '--mirror', setDir, join(served, 'set.git')]);
    const server = await startGitHttpServer(served);
    try {
      const url = `${server.url}/set.git`;
      const cache = tempDir('cache');
      const ws = workspace({ curl: '^7', openssl: '=3.0.20' });
      const r = await lockWorkspace({ root: ws, sets: { main: url }, verifier, cacheDir: cache });
      expect(r.lock.sets.main).toEqual({ url, commit: gitCli(setDir, ['rev-parse', 'refs/eos/set']) });
      // The same atoms as from the local path.
      const local = workspace({ curl: '^7', openssl: '=3.0.20' });
      const l = await lockWorkspace({ root: local, sets: { main: setDir }, verifier, cacheDir: cache });
      expect(r.lock.atoms).toEqual(l.lock.atoms);
      await checkWorkspaceLock(ws, verifier, cache);
      // eos atom verify over HTTP, in another process.
      // (asynchronously: the server runs in this process)
      const v = await new Promise<{ stdout: string; stderr: string; status: number | null }>((ok) => {
        const child = spawn(join(repoRoot, 'bin', 'eos.mjs'), ['atom', 'verify', 'curl', '--repo', url], {
          env: { ...process.env, EOS_CONFIG_DIR: config },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
        child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        child.on('close', (status) => ok({ stdout, stderr: stderr.trim(), status }));
      });
      expect(v.stderr).toBe('1 of 1 atom(s) verified');
      expect(v.stdout).toMatch(/^ok\tcurl\t7\.88\.1\tblake3:[0-9a-f]{64}\talice$/m);
      expect(v.status).toBe(0);
    } finally {
      await server.close();
    }
  });
});
