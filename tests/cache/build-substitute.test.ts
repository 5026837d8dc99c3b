/**
 * `eos build` from binary caches, end to end: a lock of two real sandboxed builds (a library and a
 * program linking it, over the host-seeded world) is built on store A with a signing key, pushed
 * with `eos cache push` to the real nginx (WebDAV PUT) and the real bst-artifact-server (REAPI),
 * and built on a fresh store B, whose config lists the cache in `cache.toml` and trusts the key
 * for `cache`: every action is substituted, none runs, and the program runs. A tampered record,
 * an untrusted key and a flipped byte are refused with E59/E59/E60 under --require-cache and
 * nothing enters the store; without it a refusal falls back to building. A re-push sends no
 * object. Needs root, bwrap and the host's gcc-12 (as tests/build/eos-build.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeLock } from '../../atoms/index.ts';
import { httpCachePath } from '../../cache/index.ts';
import { buildLock } from '../../src/build/index.ts';
import { run as push } from '../../src/cli/cache-push.ts';
import { run as build } from '../../src/cli/build.ts';
import {
  CacheObjectRefusedError,
  CacheRecordRefusedError,
  CacheRequiredError,
  Store,
  emptyTrustPolicy,
  exportPublicKey,
  generateKey,
  importPublicKey,
  readKeyring,
  trustKey,
  writeTrustPolicy,
  type Digest,
} from '../../src/kernel/index.ts';
import { actionEntryPath, openActionCache } from '../../scheduler/index.ts';
import { hostSeedWorld, testCacheDir } from '../executor/helpers.ts';
import { tempDir } from '../helpers/fs.ts';
import { startBst, startNginx, type CacheServer } from '../../bench/cache/servers.ts';

const canRun = existsSync('/usr/bin/bwrap') && process.getuid?.() === 0 && existsSync('/usr/bin/gcc-12');
if (!canRun) console.warn('cache build test skipped: needs root, /usr/bin/bwrap and gcc-12');

const nonce = `${Date.now()}-${process.pid}`;

function atom(dir: string, label: string, deps: Record<string, string>, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'atom.toml'),
    [
      '[atom]',
      `label = "${label}"`,
      'version = "1.0.0"',
      '',
      '[deps]',
      ...Object.entries(deps).map(([k, v]) => `${k} = "${v}"`),
      '',
      '[build]',
      'recipe = "std.make"',
      '',
    ].join('\n'),
  );
  for (const [n, t] of Object.entries(files)) writeFileSync(join(dir, n), t);
}

let nginx: CacheServer;
let bst: CacheServer;
let storeA: Store;
let seedLock: string;
let lock: string;
let configA: string;
let keyName: string;
const actions: Digest[] = [];
const outputs = new Map<string, Digest>();

/** A configuration directory ("another machine") trusting the builder key for `cache`, listing `subs`. */
async function machine(subs: string[], trust = true): Promise<string> {
  const config = tempDir('eos-cache-config-');
  const k = await importPublicKey(config, await exportPublicKey(configA, keyName), 'builder.pub');
  const policy = trust ? trustKey(emptyTrustPolicy(), k.id, ['cache']) : emptyTrustPolicy();
  await writeTrustPolicy(config, policy, await readKeyring(config));
  writeFileSync(
    join(config, 'cache.toml'),
    `version = 1\nsubstituters = [${subs.map((s) => JSON.stringify(s)).join(', ')}]\n`,
  );
  return config;
}

async function buildOn(store: Store, config: string, more: Record<string, unknown> = {}) {
  const old = process.env.EOS_CONFIG_DIR;
  process.env.EOS_CONFIG_DIR = config;
  try {
    return await build({ store: store.root, json: false, lock, seedLock, jobs: '2', ...more });
  } finally {
    if (old === undefined) delete process.env.EOS_CONFIG_DIR;
    else process.env.EOS_CONFIG_DIR = old;
  }
}

beforeAll(async () => {
  if (!canRun) return;
  [nginx, bst] = await Promise.all([startNginx(), startBst()]);
  const w = await hostSeedWorld();
  storeA = w.store;
  seedLock = join(testCacheDir(), 'seed-host.lock');
  const ws = mkdtempSync(join(tmpdir(), 'eos-cache-ws-'));
  atom(
    join(ws, 'libgreet'),
    'libgreet',
    {},
    {
      'greet.h': 'const char *greet(void);\n',
      'greet.c': `const char *greet(void) { return "hello from the cache ${nonce}"; }\n`,
      Makefile: [
        'libgreet.so.1: greet.c',
        '\t$(CC) -O2 -fPIC -shared -Wl,-soname,libgreet.so.1 -o $@ greet.c',
        'install: libgreet.so.1',
        '\tinstall -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include',
        '\tinstall -m 644 greet.h $(DESTDIR)$(PREFIX)/include/',
        '\tinstall -m 755 libgreet.so.1 $(DESTDIR)$(PREFIX)/lib/',
        '\tln -sf libgreet.so.1 $(DESTDIR)$(PREFIX)/lib/libgreet.so',
        '',
      ].join('\n'),
    },
  );
  atom(
    join(ws, 'hello'),
    'hello',
    { libgreet: '^1.0' },
    {
      'hello.c': '#include <stdio.h>\n#include <greet.h>\nint main(void) { puts(greet()); return 0; }\n',
      Makefile: [
        'hello: hello.c',
        '\t$(CC) -O2 -o $@ hello.c -lgreet',
        'install: hello',
        '\tinstall -d $(DESTDIR)$(PREFIX)/bin',
        '\tinstall -m 755 hello $(DESTDIR)$(PREFIX)/bin/',
        '',
      ].join('\n'),
    },
  );
  lock = join(ws, 'eos.lock');
  writeFileSync(
    lock,
    encodeLock({
      version: 1,
      prerelease: false,
      sets: {},
      atoms: {},
      workspace: {
        libgreet: { path: 'libgreet', version: '1.0.0', deps: [] },
        hello: { path: 'hello', version: '1.0.0', deps: ['libgreet'] },
      },
    }),
  );
  configA = tempDir('eos-cache-config-a-');
  keyName = 'builder';
  await generateKey(configA, keyName);
  const r = await buildLock({
    lock,
    store: storeA,
    seedLock,
    jobs: 2,
    signKey: { config: configA, name: keyName },
  });
  expect(r.exitCode).toBe(0);
  for (const [label, res] of r.result!.results) {
    actions.push(res.action!);
    outputs.set(label, res.output!);
  }
}, 900_000);

afterAll(async () => {
  await Promise.all([nginx?.close(), bst?.close()]);
});

describe.skipIf(!canRun)('eos build from a binary cache (real builds, real servers)', () => {
  for (const which of ['nginx', 'bst-artifact-server'] as const) {
    it(`store A pushes to ${which}; a fresh store B builds the lock with 0 actions run; the program runs`, async () => {
      const server = which === 'nginx' ? nginx : bst;
      const first = await push({ store: storeA.root, json: false, url: server.url, actions });
      expect(first.lines!.at(-1)).toMatch(/^2 action\(s\): [1-9]\d* object\(s\) sent \(\d+ B\), 0 present$/);
      const again = await push({ store: storeA.root, json: false, url: server.url, actions });
      expect(again.lines!.at(-1)).toMatch(/^2 action\(s\): 0 object\(s\) sent \(0 B\), [1-9]\d* present$/);
      expect(again.lines!.filter((l) => l.endsWith('entry present'))).toHaveLength(2);

      const storeB = new Store(tempDir('eos-cache-store-b-'));
      const b = await buildOn(storeB, await machine([server.url]), { requireCache: true });
      console.log(`cache build (${which}): ${b.lines!.join(' | ')}`);
      expect(b.exitCode).toBe(0);
      expect(b.lines!.at(-1)).toBe('2 atom(s): 0 ok, 2 cached');
      expect(b.lines!.filter((l) => l.startsWith('substituted\t'))).toHaveLength(2);
      expect(b.lines!.some((l) => l.startsWith('ok\t'))).toBe(false);
      const out = tempDir('eos-cache-run-');
      await storeB.materialize(outputs.get('hello')!, join(out, 'hello'));
      await storeB.materialize(outputs.get('libgreet')!, join(out, 'libgreet'));
      const prog = execFileSync(join(out, 'hello', 'usr', 'bin', 'hello'), {
        env: { LD_LIBRARY_PATH: join(out, 'libgreet', 'usr', 'lib') },
        encoding: 'utf8',
      });
      expect(prog).toBe(`hello from the cache ${nonce}\n`);
      // A second build on B finds everything in its own action cache.
      const again2 = await buildOn(storeB, await machine([server.url]));
      expect(again2.lines!.filter((l) => l.startsWith('substituted\t'))).toHaveLength(0);
      expect(again2.lines!.at(-1)).toBe('2 atom(s): 0 ok, 2 cached');
    }, 300_000);
  }

  it('an untrusted key, a tampered record and a flipped byte are refused by name; nothing enters the store; without --require-cache it builds', async () => {
    await push({ store: storeA.root, json: false, url: nginx.url, actions });
    const lib = actions[0]!;
    const libOut = (await openActionCache(storeA).get(lib))!.record.output;
    // buildLock itself, to see the error each failed action carries.
    const refuse = async (config: string) => {
      const s = new Store(tempDir('eos-cache-store-c-'));
      const r = await buildLock({
        lock,
        store: s,
        seedLock,
        jobs: 2,
        substituters: [nginx.url],
        trustConfig: config,
        requireCache: true,
      });
      expect(r.exitCode).toBe(3);
      expect(r.lines).toContain('skipped\thello\tdependency libgreet failed');
      await nothing(s);
      return { error: r.result!.results.get('libgreet')!.error, lines: r.lines };
    };
    const nothing = async (s: Store) => {
      for (const o of outputs.values()) expect(await s.trees.has(o)).toBe(false);
      for (const a of actions) expect(await openActionCache(s).get(a)).toBeUndefined();
    };

    // Untrusted: the key is known but trusted for nothing.
    const untrusted = await refuse(await machine([nginx.url], false));
    expect(untrusted.error).toBeInstanceOf(CacheRecordRefusedError);
    expect(String(untrusted.error)).toMatch(
      /^CacheRecordRefusedError: \[E59\] cache .* is valid but the key is not trusted/,
    );

    // Tampered: every entry's record edited, signatures kept.
    const entries = actions.map((a) => join(nginx.dir, httpCachePath('action', a)));
    const saved = entries.map((f) => readFileSync(f));
    entries.forEach((f, i) =>
      writeFileSync(f, saved[i]!.toString().replace(/"durationMs":\d+/, '"durationMs":1')),
    );
    const tampered = await refuse(await machine([nginx.url]));
    expect(tampered.error).toBeInstanceOf(CacheRecordRefusedError);
    expect(String(tampered.error)).toMatch(/\[E59\] .*signs another digest/);
    entries.forEach((f, i) => writeFileSync(f, saved[i]!));

    // A flipped byte in the library's tree.
    const treeFile = join(nginx.dir, httpCachePath('tree', libOut));
    const treeBytes = readFileSync(treeFile);
    const flipped = Buffer.from(treeBytes);
    flipped[flipped.length - 3] = flipped[flipped.length - 3]! ^ 0x01;
    writeFileSync(treeFile, flipped);
    const corrupt = await refuse(await machine([nginx.url]));
    expect(corrupt.error).toBeInstanceOf(CacheObjectRefusedError);
    expect(String(corrupt.error)).toContain(
      `[E60] cache ${nginx.url}: object ${libOut}: its ${treeBytes.length} bytes hash to`,
    );
    expect(corrupt.lines.find((l) => l.startsWith('FAIL\tlibgreet\t'))).toContain(`object ${libOut}`);

    // No cache holds the action (a 404 for its entry): E61 under --require-cache.
    const gone = join(nginx.dir, httpCachePath('action', lib));
    const goneBytes = readFileSync(gone);
    unlinkSync(gone);
    const missing = await refuse(await machine([nginx.url]));
    expect(missing.error).toBeInstanceOf(CacheRequiredError);
    writeFileSync(gone, goneBytes);

    writeFileSync(treeFile, treeBytes);

    // Without --require-cache a refusal is reported and the action is built here (on store A,
    // which has the seed, once its own entry for libgreet is gone; the cache's is tampered).
    writeFileSync(entries[0]!, saved[0]!.toString().replace(/"durationMs":\d+/, '"durationMs":1'));
    unlinkSync(actionEntryPath(storeA.root, lib));
    const fallback = await buildOn(storeA, await machine([nginx.url]));
    expect(fallback.exitCode).toBe(0);
    expect(fallback.lines!.find((l) => l.startsWith('refused\t'))).toMatch(
      /^refused\t.*\t\[E59\] .*signs another digest/,
    );
    expect(fallback.lines).toContain(`ok\tlibgreet\t${libOut}`);
    writeFileSync(entries[0]!, saved[0]!);
  }, 600_000);
});
