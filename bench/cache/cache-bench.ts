/**
 * bench/cache: a lock's chain substituted from each binary cache backend on loopback (Debian's
 * nginx with WebDAV PUT; BuildStream's bst-artifact-server, REAPI) against building it, and
 * `eos cache push` of its outputs (plus a larger output: the host's gcc-12 directory, as one
 * action) against `rsync -a` of the same files into an empty directory, first and repeated.
 * The chain is the two-atom lock of tests/cache/build-substitute.test.ts (a shared library and a
 * program linking it, real sandboxed builds over the host seed), with a fresh nonce per run, so
 * the build is cold. Writes bench/out/cache.json (rows for bench/table.mjs).
 * Usage: npx tsx bench/cache/cache-bench.ts   (root; nginx, python3-buildstream, rsync)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeLock } from '../../atoms/index.ts';
import { openCache, pushAction } from '../../cache/index.ts';
import { ensureSeed } from '../../executor/index.ts';
import { constructiveRebuilder, keySigner, openActionCache } from '../../scheduler/index.ts';
import { buildLock } from '../../src/build/index.ts';
import {
  Store,
  digestBytes,
  emptyTrustPolicy,
  generateKey,
  readKeyring,
  readSecretKey,
  trustKey,
  writeTrustPolicy,
  type Digest,
} from '../../src/kernel/index.ts';
import { startBst, startNginx } from './servers.ts';

const tmp = (p: string) => mkdtempSync(join(tmpdir(), `eos-cache-bench-${p}-`));
const now = () => performance.now() / 1000;
const nonce = `${Date.now()}-${process.pid}`;

function atom(dir: string, label: string, deps: Record<string, string>, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  const dep = Object.entries(deps).map(([k, v]) => `${k} = "${v}"`);
  writeFileSync(
    join(dir, 'atom.toml'),
    `[atom]\nlabel = "${label}"\nversion = "1.0.0"\n\n[deps]\n${dep.join('\n')}\n\n[build]\nrecipe = "std.make"\n`,
  );
  for (const [n, t] of Object.entries(files)) writeFileSync(join(dir, n), t);
}

// Store A and its host seed: the test suite's cache (tests/executor/helpers.ts) unless EOS_TEST_CACHE says otherwise.
const cacheDir = process.env.EOS_TEST_CACHE ?? '/var/cache/eos-test';
const storeA = new Store(join(cacheDir, 'store'));
const seedLock = join(cacheDir, 'seed-host.lock');
await ensureSeed({ store: storeA, mode: 'host', lockPath: seedLock });
const ws = tmp('ws');
atom(
  join(ws, 'libgreet'),
  'libgreet',
  {},
  {
    'greet.h': 'const char *greet(void);\n',
    'greet.c': `const char *greet(void) { return "bench ${nonce}"; }\n`,
    Makefile:
      'libgreet.so.1: greet.c\n\t$(CC) -O2 -fPIC -shared -Wl,-soname,libgreet.so.1 -o $@ greet.c\n' +
      'install: libgreet.so.1\n\tinstall -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include\n' +
      '\tinstall -m 644 greet.h $(DESTDIR)$(PREFIX)/include/\n\tinstall -m 755 libgreet.so.1 $(DESTDIR)$(PREFIX)/lib/\n' +
      '\tln -sf libgreet.so.1 $(DESTDIR)$(PREFIX)/lib/libgreet.so\n',
  },
);
atom(
  join(ws, 'hello'),
  'hello',
  { libgreet: '^1.0' },
  {
    'hello.c': '#include <stdio.h>\n#include <greet.h>\nint main(void) { puts(greet()); return 0; }\n',
    Makefile:
      'hello: hello.c\n\t$(CC) -O2 -o $@ hello.c -lgreet\ninstall: hello\n\tinstall -d $(DESTDIR)$(PREFIX)/bin\n\tinstall -m 755 hello $(DESTDIR)$(PREFIX)/bin/\n',
  },
);
const lock = join(ws, 'eos.lock');
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
const config = tmp('config');
const key = await generateKey(config, 'builder');
await writeTrustPolicy(config, trustKey(emptyTrustPolicy(), key.id, ['cache']), await readKeyring(config));

let t = now();
const built = await buildLock({
  lock,
  store: storeA,
  seedLock,
  jobs: 2,
  signKey: { config, name: 'builder' },
});
const buildS = now() - t;
if (built.exitCode !== 0) throw new Error(`bench build failed: ${built.lines.join('\n')}`);
const actions = [...built.result!.results.values()].map((r) => r.action!);

// A larger output, filed as one signed action: the host's gcc-12 directory.
const bigAction = digestBytes(`cache bench big ${nonce}`);
const bigSrc = '/usr/lib/gcc/x86_64-linux-gnu/12';
const bigOut = (await storeA.ingest(bigSrc)).digest;
const log = await storeA.blobs.put(new TextEncoder().encode('bench\n'));
await constructiveRebuilder(openActionCache(storeA), {
  signer: keySigner((await readSecretKey(config, 'builder')).seed),
}).record({
  action: bigAction,
  output: bigOut,
  world: digestBytes('w'),
  log,
  durationMs: 0,
  seedMode: 'host',
});

const [nginx, bst] = await Promise.all([startNginx(), startBst()]);
const rows: object[] = [];
const row = (measure: string, eos: number, peer: number, goal: string, met: boolean | null) =>
  rows.push({ measure, eos, peer, unit: 's', ratio: eos / peer, goal, met });
try {
  for (const [name, server] of [
    ['http (nginx)', nginx],
    ['reapi (bst-artifact-server)', bst],
  ] as const) {
    const cache = openCache(server.url);
    for (const a of actions) await pushAction(storeA, cache, a);
    cache.close();
    const storeB = new Store(tmp('store-b'));
    t = now();
    const sub = await buildLock({
      lock,
      store: storeB,
      seedLock,
      jobs: 2,
      substituters: [server.url],
      trustConfig: config,
      requireCache: true,
    });
    const subS = now() - t;
    if (sub.exitCode !== 0 || sub.substitutions.length !== 2)
      throw new Error(`substitution failed: ${sub.lines.join('\n')}`);
    row(
      `cache: 2-action lock substituted from ${name} vs built`,
      subS,
      buildS,
      '< 1 (faster than building)',
      subS < buildS,
    );
    rmSync(storeB.root, { recursive: true, force: true });
  }

  // Push vs rsync of the same files (the outputs, materialized), first and repeated.
  const files = tmp('files');
  const outs: Digest[] = [bigOut];
  for (const a of actions) outs.push((await openActionCache(storeA).get(a))!.record.output);
  for (const [i, o] of outs.entries()) await storeA.materialize(o, join(files, String(i)));
  const rsyncTo = tmp('rsync');
  const rsync = () => execFileSync('rsync', ['-a', `${files}/`, `${rsyncTo}/`]);
  for (const [name, server] of [
    ['http (nginx)', nginx],
    ['reapi (bst-artifact-server)', bst],
  ] as const) {
    const cache = openCache(server.url);
    try {
      t = now();
      await pushAction(storeA, cache, bigAction);
      const pushS = now() - t;
      rmSync(rsyncTo, { recursive: true, force: true });
      mkdirSync(rsyncTo);
      t = now();
      rsync();
      const rsyncS = now() - t;
      row(`cache: push of gcc-12 (${name}) vs rsync -a, first`, pushS, rsyncS, 'report', null);
      t = now();
      const again = await pushAction(storeA, cache, bigAction);
      const repushS = now() - t;
      if (again.sent !== 0) throw new Error(`re-push sent ${again.sent} objects`);
      t = now();
      rsync();
      const rersyncS = now() - t;
      row(
        `cache: re-push (0 objects sent, ${name}) vs rsync -a, unchanged`,
        repushS,
        rersyncS,
        'report',
        null,
      );
    } finally {
      cache.close();
    }
  }
} finally {
  await Promise.all([nginx.close(), bst.close()]);
}
mkdirSync('bench/out', { recursive: true });
writeFileSync('bench/out/cache.json', JSON.stringify({ rows }, null, 2));
for (const r of rows) console.log(JSON.stringify(r));
