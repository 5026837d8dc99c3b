/**
 * bench/cache: the demo's chain (zlib → OpenSSL → curl, and the demo's root atom when it has an
 * action) substituted on a second "machine" from each binary cache backend on loopback (Debian's
 * nginx with WebDAV PUT; BuildStream's bst-artifact-server, REAPI) against building it, and
 * `eos cache push` of the chain's outputs against `rsync -a` of the same files to an rsync daemon
 * on loopback, first (empty destination) and repeated (nothing changed). One run each.
 *
 * Machine A is the demo's built state (EOS_DEMO_DIR, default .eos-demo: `npm run demo` up to its
 * build): its store and its signed build records are only read. "Building it" is not re-run
 * (OpenSSL alone is minutes): it is the sum of the chain's recorded build wall times, the
 * `durationMs` of each action's build record in A's action cache (the executor's wall time of
 * that very build; the chain is sequential, so the sum is its critical path). Machine B is a fresh
 * store whose seed is ingested from the seed lock first (not timed, as on any machine) and a fresh
 * config trusting A's key for `cache`; its substitution is timed as the whole `eos build
 * --require-cache` of the lock (world composition, lookups, downloads, checks, stores).
 *
 * The rsync peer sends the very objects the push sends (A's blob and tree files of the chain's
 * closures, `--files-from`), to `rsync --daemon` on 127.0.0.1. Every file is read once before
 * either runs, so both read from the page cache.
 *
 * Writes bench/out/cache.json (rows for bench/table.mjs).
 * Usage: npx tsx bench/cache/cache-bench.ts   (root; nginx, python3-buildstream, rsync; the demo's state)
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseLock } from '../../atoms/index.ts';
import { localClosure, openCache, pushAction, type PushedAction } from '../../cache/index.ts';
import { ensureSeed } from '../../executor/index.ts';
import { findAtomOutputs, openActionCache } from '../../scheduler/index.ts';
import { buildLock } from '../../src/build/index.ts';
import {
  Store,
  emptyTrustPolicy,
  exportPublicKey,
  importPublicKey,
  readKeyring,
  trustKey,
  writeTrustPolicy,
  type Digest,
} from '../../src/kernel/index.ts';
import { freePort, startBst, startNginx, type CacheServer } from './servers.ts';

const PUSH_GOAL = 2;
const tmp = (p: string) => mkdtempSync(join(tmpdir(), `eos-cache-bench-${p}-`));
const now = () => performance.now() / 1000;
const say = (s: string) => process.stderr.write(`bench/cache: ${s}\n`);

const demo = resolve(process.env.EOS_DEMO_DIR ?? '.eos-demo');
const lockPath = join(demo, 'work', 'root', 'eos.lock');
const seedLockA = join(demo, 'work', 'root', 'seed.lock');
if (!existsSync(lockPath) || !existsSync(join(demo, 'store')))
  throw new Error(`bench/cache needs the demo's built state at ${demo} (npm run demo; or EOS_DEMO_DIR)`);
const storeA = new Store(join(demo, 'store'));
const configA = join(demo, 'config');

// The chain: the newest signed entry of every atom of the lock (locked and workspace) in A's action
// cache (bench/observe, run before this one by run-all.sh, adds newer unsigned observed records).
const lock = parseLock(readFileSync(lockPath, 'utf8'), lockPath);
const wanted = [
  ...Object.entries(lock.atoms).map(([l, a]) => [l, a.version] as const),
  ...Object.entries(lock.workspace).map(([l, a]) => [l, a.version] as const),
];
const chain: { label: string; action: Digest; durationMs: number; key: Digest }[] = [];
for (const [label, version] of wanted) {
  const outputs = await findAtomOutputs(storeA, label, version);
  const found = outputs.find((o) => o.signedBy.length > 0) ?? outputs[0];
  if (!found) continue;
  const entry = (await openActionCache(storeA).get(found.action))!;
  chain.push({ label, action: found.action, durationMs: entry.record.durationMs, key: found.signedBy[0]! });
}
for (const l of ['zlib', 'openssl', 'curl'])
  if (!chain.some((c) => c.label === l))
    throw new Error(`bench/cache: ${l} of ${lockPath} is not built in ${demo}/store`);
if (chain.some((c) => !c.key)) throw new Error('bench/cache: an entry of the chain is unsigned');
const buildS = chain.reduce((n, c) => n + c.durationMs, 0) / 1000;
const labels = chain.map((c) => c.label).join(', ');
say(
  `chain: ${chain.map((c) => `${c.label} ${(c.durationMs / 1000).toFixed(1)} s`).join(', ')} (recorded build wall times)`,
);

// The objects a push sends, as files of A's store (the rsync peer's file list), read once (page cache).
const objects = new Map<Digest, string>();
for (const c of chain) {
  const r = (await openActionCache(storeA).get(c.action))!.record;
  for (const o of await localClosure(storeA, [r.output, r.log]))
    objects.set(o.digest, o.kind === 'tree' ? storeA.treePath(o.digest) : storeA.blobPath(o.digest));
}
let bytes = 0;
for (const p of objects.values()) bytes += readFileSync(p).length;
const fileList = join(tmp('list'), 'files');
writeFileSync(fileList, [...objects.values()].map((p) => relative(storeA.root, p)).join('\n') + '\n');
const what = `${objects.size} objects, ${(bytes / 1e6).toFixed(1)} MB`;
say(`push set: ${what}`);

// Machine B: a fresh config trusting A's signing key for `cache`, and a store with the seed only.
const configB = tmp('config-b');
const keyringA = await readKeyring(configA);
const keyName = keyringA.byId.get(chain[0]!.key)?.name;
if (!keyName) throw new Error(`bench/cache: the chain's signing key is not in ${configA}`);
const imported = await importPublicKey(configB, await exportPublicKey(configA, keyName), configA);
await writeTrustPolicy(
  configB,
  trustKey(emptyTrustPolicy(), imported.id, ['cache']),
  await readKeyring(configB),
);
const seedBase = new Store(tmp('store-b'));
const seedLock = join(tmp('seed'), 'seed.lock');
cpSync(seedLockA, seedLock);
const aptDir = tmp('apt');
cpSync(join(storeA.root, 'cache', 'apt'), aptDir, { recursive: true });
let t = now();
await ensureSeed({ store: seedBase, lockPath: seedLock, aptDir, repinIfGone: false });
say(`machine B's seed ingested in ${(now() - t).toFixed(1)} s (not timed)`);

/** An rsync daemon on loopback with one writable module `eos` at `dir`. */
async function startRsyncd(dir: string): Promise<{ url: string; close: () => void }> {
  const conf = join(tmp('rsyncd'), 'rsyncd.conf');
  const port = await freePort();
  writeFileSync(
    conf,
    `port = ${port}\naddress = 127.0.0.1\nuse chroot = no\n[eos]\npath = ${dir}\nread only = no\nuid = root\ngid = root\n`,
  );
  const child = spawn('rsync', ['--daemon', '--no-detach', `--config=${conf}`], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync('rsync', [`rsync://127.0.0.1:${port}/`], { stdio: 'ignore' });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { url: `rsync://127.0.0.1:${port}/eos/`, close: () => child.kill('SIGTERM') };
}

const rows: object[] = [];
const row = (measure: string, eos: number, peer: number, goal: string, met: boolean | null) => {
  rows.push({ measure, eos, peer, unit: 's', ratio: eos / peer, goal, met });
  say(`${measure}: ${eos.toFixed(3)} s vs ${peer.toFixed(3)} s (${(eos / peer).toFixed(2)})`);
};
const pushAll = async (url: string): Promise<PushedAction[]> => {
  const cache = openCache(url);
  try {
    const out: PushedAction[] = [];
    for (const c of chain) out.push(await pushAction(storeA, cache, c.action));
    return out;
  } finally {
    cache.close();
  }
};

const servers: [string, () => Promise<CacheServer>][] = [
  ['http (nginx)', startNginx],
  ['reapi (bst-artifact-server)', startBst],
];
for (const [name, start] of servers) {
  const server = await start();
  const dest = tmp('rsync-dest');
  const rsyncd = await startRsyncd(dest);
  const rsync = () =>
    execFileSync('rsync', ['-a', `--files-from=${fileList}`, `${storeA.root}/`, rsyncd.url], {
      stdio: 'ignore',
    });
  try {
    // Push against rsync, first (empty destinations) and again (nothing changed); rsync first each time.
    t = now();
    rsync();
    const rsyncS = now() - t;
    t = now();
    const first = await pushAll(server.url);
    const pushS = now() - t;
    const sent = first.reduce((n, p) => n + p.sent, 0);
    if (sent !== objects.size) throw new Error(`first push sent ${sent} of ${objects.size} objects`);
    row(
      `cache: push of the demo chain's outputs (${what}) to ${name} vs rsync to rsyncd, first`,
      pushS,
      rsyncS,
      `<= ${PUSH_GOAL}`,
      pushS / rsyncS <= PUSH_GOAL,
    );
    t = now();
    rsync();
    const rersyncS = now() - t;
    t = now();
    const again = await pushAll(server.url);
    const repushS = now() - t;
    if (again.some((p) => p.sent !== 0 || p.entrySent)) throw new Error('the re-push sent something');
    row(
      `cache: re-push (0 objects sent) to ${name} vs rsync to rsyncd, unchanged`,
      repushS,
      rersyncS,
      `<= ${PUSH_GOAL}`,
      repushS / rersyncS <= PUSH_GOAL,
    );

    // Machine B: the chain from this cache, nothing built.
    const storeB = new Store(tmp('store-b-run'));
    rmSync(storeB.root, { recursive: true });
    execFileSync('cp', ['-al', seedBase.root, storeB.root]);
    t = now();
    const sub = await buildLock({
      lock: lockPath,
      store: storeB,
      seedLock,
      jobs: 2,
      substituters: [server.url],
      trustConfig: configB,
      requireCache: true,
    });
    const subS = now() - t;
    if (sub.exitCode !== 0 || sub.substitutions.length !== chain.length)
      throw new Error(`substitution from ${name} failed (exit ${sub.exitCode}): ${sub.lines.join('\n')}`);
    const got = sub.substitutions.reduce((n, s) => n + s.objects, 0);
    say(`${name}: ${sub.substitutions.length} actions substituted, ${got} objects downloaded`);
    row(
      `cache: demo chain (${labels}) substituted from ${name} vs built (recorded)`,
      subS,
      buildS,
      '< 1',
      subS < buildS,
    );
    rmSync(storeB.root, { recursive: true, force: true });
  } finally {
    rsyncd.close();
    await server.close();
    rmSync(dest, { recursive: true, force: true });
  }
}
rmSync(seedBase.root, { recursive: true, force: true });
rmSync(aptDir, { recursive: true, force: true });
mkdirSync('bench/out', { recursive: true });
writeFileSync('bench/out/cache.json', JSON.stringify({ rows }, null, 2));
for (const r of rows) console.log(JSON.stringify(r));
