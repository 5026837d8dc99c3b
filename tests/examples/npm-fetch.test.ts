/**
 * The networked atom (examples/npm-hello, specs/fetch.md §8): `npm ci` of a real package-lock
 * against the npm registry the machine's npm is configured with, recorded once through the fetch
 * proxy, then replayed with nothing passed through: the same fetch tree byte for byte, and builds
 * over both to the same output tree. Inside the fetch's namespace a direct connection has no route;
 * an unrecorded request is E53; a tampered lock is E54 (hand edit) or E55 (a body the store lacks).
 * Needs root, bwrap, the host's node and npm, and the registry (network) for the recording.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { lookup } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../atoms/index.ts';
import { digestBytes, probeDigest, type Digest, type Store } from '../../src/kernel/index.ts';
import {
  buildAtom,
  encodeFetchLock,
  ensureSeed,
  makeFetchLock,
  parseFetchLock,
  runFetchAction,
  type FetchActionRequest,
  type FetchLock,
  type SourceSpec,
} from '../../executor/index.ts';
import { testCacheDir, testStore } from '../executor/helpers.ts';

const run = promisify(execFile);

/**
 * The host's node and npm as one layer (specs/fetch.md §8): `usr/bin/node` (its libraries, libc6 and
 * libstdc++6, are in the seed), the npm directory as it is now (the packaged npm may have been
 * upgraded in place: the dpkg file list no longer describes it), and the `npm`/`npx` links.
 */
async function hostNodeLayer(store: Store): Promise<Digest> {
  const d = mkdtempSync(join(tmpdir(), 'eos-node-layer-'));
  try {
    mkdirSync(join(d, 'usr/bin'), { recursive: true });
    mkdirSync(join(d, 'usr/lib/node_modules'), { recursive: true });
    copyFileSync(realpathSync(process.execPath), join(d, 'usr/bin/node'));
    chmodSync(join(d, 'usr/bin/node'), 0o755);
    const npmDir = realpathSync(join(dirname(realpathSync('/usr/bin/npm')), '..'));
    cpSync(npmDir, join(d, 'usr/lib/node_modules/npm'), { recursive: true, verbatimSymlinks: true });
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(d, 'usr/bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(d, 'usr/bin/npx'));
    return (await store.ingest(d)).digest;
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}
const REPO = join(import.meta.dirname, '../..');
const EXAMPLE = join(REPO, 'examples/npm-hello');
const canRun = process.getuid?.() === 0 && existsSync('/usr/bin/bwrap') && existsSync('/usr/bin/npm');

/** What the action threw: its code and message. */
async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as { code: string; message: string },
  );
}

describe.skipIf(!canRun)(
  'the networked atom: npm ci recorded once, replayed offline (root; bwrap; network once)',
  () => {
    it('records, replays byte-identically, builds the same tree; cut network; E53, E54, E55', async () => {
      const store = testStore();
      const registry = (await run('npm', ['config', 'get', 'registry'])).stdout.trim();
      const seed = await ensureSeed({
        store,
        mode: 'host',
        lockPath: join(testCacheDir(), 'seed-host.lock'),
      });
      const deps = [{ name: 'node', tree: await hostNodeLayer(store) }];
      const dir = mkdtempSync(join(tmpdir(), 'eos-npm-hello-'));
      cpSync(EXAMPLE, dir, { recursive: true });
      const m = parseManifest(readFileSync(join(dir, 'atom.toml'), 'utf8'), join(dir, 'atom.toml'));
      expect(m.fetch?.script).toContain('npm ci');
      const probe = mkdtempSync(join(tmpdir(), 'eos-npm-probe-'));
      const src: SourceSpec = { kind: 'path', path: dir, digest: await probeDigest(dir, probe) };
      rmSync(probe, { recursive: true, force: true });
      const base: Omit<FetchActionRequest, 'mode'> = {
        store,
        seed: seed.lock,
        label: m.atom.label,
        version: m.atom.version,
        script: m.fetch!.script,
        env: { ...m.fetch!.env, npm_config_registry: registry },
        sources: [src],
        deps,
        baseDir: dir,
        jobs: 2,
      };

      // Record: the network, only through the proxy.
      const rec = await runFetchAction({ ...base, mode: 'record' });
      const lock = rec.lock;
      // The lock names no registry (--omit-lockfile-registry-resolved): npm reads each packument, then the tarball.
      expect(lock.entries.map((e) => [e.method, e.url.slice(registry.length), e.status])).toEqual([
        ['GET', 'is-number', 200],
        ['GET', 'is-number/-/is-number-7.0.0.tgz', 200],
        ['GET', 'ms', 200],
        ['GET', 'ms/-/ms-2.1.3.tgz', 200],
      ]);
      expect(lock.entries[1]!.size).toBeGreaterThan(1000);
      for (const e of lock.entries) expect(await store.hasBlob(e.body)).toBe(true);
      const lockBytes = encodeFetchLock(lock);
      expect(parseFetchLock(lockBytes)).toEqual(lock);

      // Replay: nothing passes through; the same fetch tree, byte for byte.
      const rep = await runFetchAction({ ...base, mode: 'replay', lock: parseFetchLock(lockBytes) });
      expect(rep.served).toBe(4);
      expect(rep.output).toBe(rec.output);

      // The build runs with no network over the fetch tree: the same output from either fetch.
      const buildReq = {
        store,
        seed: seed.lock,
        label: m.atom.label,
        version: m.atom.version,
        recipe: m.build!.recipe,
        args: m.build!.args,
        sources: [src],
        deps,
        baseDir: dir,
        jobs: 2,
      };
      const a = await buildAtom({ ...buildReq, fetched: rec.output });
      const b = await buildAtom({ ...buildReq, fetched: rep.output });
      expect(b.output).toBe(a.output);
      expect(a.record.details.sources).toEqual([src.digest, rec.output]);
      const out = mkdtempSync(join(tmpdir(), 'eos-npm-out-'));
      await store.materialize(a.output, out);
      expect(readFileSync(join(out, 'usr/share/hello-npm/hello.txt'), 'utf8')).toBe(
        '2 days = 172800000 ms\n1h = 3600000 ms\n90s = 90000 ms\nis-number(42) = true; is-number("x") = false\n',
      );
      expect(existsSync(join(out, 'usr/lib/hello-npm/node_modules/ms/package.json'))).toBe(true);
      rmSync(out, { recursive: true, force: true });

      // The cut: inside the fetch's namespace there is no route but the proxy, even while recording.
      const host = new URL(registry).hostname;
      const ip = (await lookup(host, { family: 4 })).address;
      const probeScript =
        `node -e 'require("net").connect(443, "${ip}").on("connect", () => { console.log("direct: connected"); process.exit(0) })` +
        `.on("error", (e) => { console.log("direct: " + e.code); process.exit(0) })'`;
      const cut = await runFetchAction({ ...base, mode: 'record', script: probeScript });
      expect(readFileSync(cut.logPath, 'utf8')).toContain('direct: ENETUNREACH');
      expect(cut.lock.entries).toEqual([]);

      // An unrecorded request: a lock without the ms tarball. E53 names it.
      const fewer: FetchLock = makeFetchLock(lock.entries.filter((e) => !e.url.endsWith('ms-2.1.3.tgz')));
      const e53 = await failure(runFetchAction({ ...base, mode: 'replay', lock: fewer }));
      expect(e53.code).toBe('E53');
      expect(e53.message).toContain(`unrecorded request GET ${registry}ms/-/ms-2.1.3.tgz`);

      // A tampered recording: a hand edit of the lock is E54; a body digest the store lacks is E55.
      const edited = Buffer.from(JSON.stringify(JSON.parse(Buffer.from(lockBytes).toString()), null, 1));
      expect(() => parseFetchLock(edited, 'npm-hello/fetch.lock')).toThrow(/\[E54\] npm-hello\/fetch.lock/);
      const forged = digestBytes(`not stored ${Date.now()} ${process.pid}`) as Digest;
      const swapped = makeFetchLock(lock.entries.map((e, i) => (i === 0 ? { ...e, body: forged } : e)));
      const e55 = await failure(
        runFetchAction({ ...base, mode: 'replay', lock: parseFetchLock(encodeFetchLock(swapped)) }),
      );
      expect(e55.code).toBe('E55');
      expect(e55.message).toContain(`recorded body ${forged} is not in the store`);

      // The CLI: `eos fetch --record` writes fetch.lock beside atom.toml; `eos build-atom` replays it
      // and builds the same tree; a hand-edited fetch.lock stops the build with E54.
      const cliDir = mkdtempSync(join(tmpdir(), 'eos-npm-cli-'));
      cpSync(EXAMPLE, cliDir, { recursive: true });
      const seedLock = join(cliDir, '..', `${basename(cliDir)}.seed.lock`);
      copyFileSync(join(testCacheDir(), 'seed-host.lock'), seedLock);
      // The `eos` executable, as users run it: its #! line moves NODE_EXTRA_CA_CERTS aside, so the
      // recording's upstream TLS trusts the machine's extra CAs through Eos's own path (specs/cli.md §1.9).
      const eos = (args: string[]) => {
        const r = spawnSync(join(REPO, 'bin/eos.mjs'), ['--store', store.root, ...args], {
          encoding: 'utf8',
        });
        return { code: r.status, stdout: r.stdout, stderr: r.stderr };
      };
      const common = [
        '--seed-lock',
        seedLock,
        '--dep',
        `node=${deps[0]!.tree}`,
        '--env',
        `npm_config_registry=${registry}`,
      ];
      const f = eos(['fetch', cliDir, '--record', ...common]);
      expect(f.code, f.stderr).toBe(0);
      const written = readFileSync(join(cliDir, 'fetch.lock'));
      expect(parseFetchLock(written)).toEqual(lock);
      expect(f.stdout).toBe(`ok\thello-npm\t${rec.output}\t4\t${digestBytes(written)}\n`);
      const built = eos(['build-atom', cliDir, ...common]);
      expect(built.code, built.stderr).toBe(0);
      expect(built.stdout).toMatch(new RegExp(`^ok\thello-npm\t${a.output}\t`));
      writeFileSync(join(cliDir, 'fetch.lock'), JSON.stringify(JSON.parse(written.toString()), null, 2));
      const bad = eos(['build-atom', cliDir, ...common]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain(`[E54] ${join(cliDir, 'fetch.lock')}: not a canonical fetch lock`);
      rmSync(seedLock);
      execFileSync('rm', ['-rf', dir, cliDir]);
    }, 900_000);
  },
);
