/**
 * The fetch action (specs/fetch.md §2, §5): the one action that sees a network, and only through
 * the fetch proxy. It runs the atom's `[fetch]` script in the atom's world (the seed plus its
 * dependencies), in the build sandbox, with its source at `/build/src` (writable), a throwaway CA
 * and the proxy named by the usual variables; what the script leaves in `$OUTPUT` is ingested as
 * the fetch tree, which the build then gets at `/build/sources/fetch` with no network at all.
 *
 * `record` passes requests to the real servers and returns the new lock (the caller writes it as
 * `fetch.lock` beside the atom); `replay` answers only from the lock and the store.
 *
 * @see specs/fetch.md
 */
import * as fs from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BuildFailedError,
  FetchProxyError,
  digestCanonical,
  type Digest,
  type Store,
} from '../../src/kernel/index.ts';
import { placeSources, prepareActionWorld } from '../build.ts';
import type { WorldMount } from '../build-world.ts';
import { runSandbox } from '../sandbox.ts';
import type { ResourceLimits } from '../sandbox-limits.ts';
import type { SeedLock } from '../seed/seed-lock.ts';
import { stagingDir } from '../seed/seed.ts';
import { fetchSource } from './fetch.ts';
import type { FetchLock } from './fetch-lock.ts';
import { fetchProxyFailure, startFetchProxy, type FetchMode } from './proxy.ts';
import type { FetchedSource, SourceSpec } from './source-spec.ts';

/** The proxy's address inside the fetch namespace. */
export const FETCH_PROXY_PORT = 3128;
/** Where the throwaway CA is inside the sandbox. */
export const FETCH_CA_PATH = '/build/.eos/fetch-ca.pem';

/** The recipe name of a fetch action in its build record (`details.recipe.name`). @see specs/fetch.md §7.1 */
export const FETCH_RECIPE = 'eos.fetch';
/**
 * The recipe identity of every fetch action in its action key and record: the digest of the
 * canonical JSON `{"format":"eos.fetch-action","version":1}` (bumped when what a replay does changes).
 * @see specs/fetch.md §7.1
 */
export const FETCH_ACTION_IDENTITY: Digest = digestCanonical({ format: 'eos.fetch-action', version: 1 });

/**
 * The variables a fetch action gets for the proxy and its CA (specs/fetch.md §2): every common
 * client's proxy and CA settings, so curl, git, node, npm, pip/requests and OpenSSL all trust only
 * the throwaway CA and reach nothing but the proxy.
 */
export function fetchEnv(port = FETCH_PROXY_PORT, caPath = FETCH_CA_PATH): Record<string, string> {
  const proxy = `http://127.0.0.1:${port}`;
  return {
    HTTP_PROXY: proxy,
    HTTPS_PROXY: proxy,
    http_proxy: proxy,
    https_proxy: proxy,
    NO_PROXY: '',
    no_proxy: '',
    SSL_CERT_FILE: caPath,
    NODE_EXTRA_CA_CERTS: caPath,
    CURL_CA_BUNDLE: caPath,
    REQUESTS_CA_BUNDLE: caPath,
    GIT_SSL_CAINFO: caPath,
    npm_config_cafile: caPath,
    npm_config_proxy: proxy,
    npm_config_https_proxy: proxy,
  };
}

/** What to fetch. */
export interface FetchActionRequest {
  store: Store;
  seed: SeedLock;
  label: string;
  version: string;
  /** The `[fetch]` script, run as `sh -eu -c SCRIPT` in `/build/src`. */
  script: string;
  /** `[fetch] env` and the caller's additions; they cannot override the proxy and CA variables. */
  env?: Record<string, string>;
  /** The atom's sources; the first is placed at `/build/src`. */
  sources: SourceSpec[];
  deps?: { name: string; tree: Digest }[];
  mode: FetchMode;
  /** Replay: the lock to serve (required). Record: the earlier lock, whose digests must still hold. */
  lock?: FetchLock;
  aptDir?: string;
  baseDir?: string;
  jobs?: number;
  /** Default 1800 s. */
  timeoutMs?: number;
  limits?: ResourceLimits;
  sourceDateEpoch?: number;
  worldMount?: WorldMount | 'auto';
  signal?: AbortSignal;
}

/** What a fetch produced. */
export interface FetchActionResult {
  /** The fetch tree (what the script left in `$OUTPUT`). */
  output: Digest;
  /** Record: the new lock. Replay: the lock served. */
  lock: FetchLock;
  /** Requests answered. */
  served: number;
  /** The log, stored as a blob. */
  log: Digest;
  logPath: string;
  world: Digest;
  /** The digests of the sources it ran over, in order. */
  sources: Digest[];
  /** `SOURCE_DATE_EPOCH` it ran with (seconds). */
  sourceDateEpoch: number;
}

/**
 * Runs a fetch action (see the module comment).
 * @throws FixedOutputMismatchError E13 (a body changed under its kept digest), RecordingMissingError
 *   E55, UnrecordedRequestError E53 (replay: a request not in the lock), even when the script exited 0;
 *   BuildFailedError E22 when the script fails otherwise (the log is stored and named);
 *   FetchProxyError E52; SandboxError E21
 */
export async function runFetchAction(req: FetchActionRequest): Promise<FetchActionResult> {
  const { store } = req;
  const what = `${req.label} ${req.version}`;
  if (req.mode === 'replay' && !req.lock) throw new FetchProxyError(`${what}: replay needs a fetch.lock`);
  const sources: FetchedSource[] = [];
  for (const s of req.sources)
    sources.push(await fetchSource(s, { store, aptDir: req.aptDir, baseDir: req.baseDir }));
  // A fetch is never observed: its world is mounted as a build's would be otherwise.
  const { world, worldDir, composefs, stored } = await prepareActionWorld(
    store,
    req.seed,
    req.deps ?? [],
    req.worldMount === 'observed' ? 'auto' : req.worldMount,
  );
  await stored; // the result names the world's root: its composition is stored
  const top = await stagingDir(store, 'fetch-action');
  // The socket and FIFO live in a short path of their own (unix socket paths are ≤107 bytes).
  const sockDir = await fs.mkdtemp(join(tmpdir(), 'eos-fetch-'));
  const proxy = await startFetchProxy({
    store,
    mode: req.mode,
    dir: sockDir,
    ...(req.lock ? { lock: req.lock } : {}),
  });
  let stopped = false;
  const sourceDateEpoch = req.sourceDateEpoch ?? 1700000000;
  try {
    const buildDir = join(top, 'build');
    const outputDir = join(top, 'output');
    await fs.mkdir(outputDir);
    await placeSources(store, sources, buildDir);
    await fs.writeFile(join(buildDir, FETCH_CA_PATH.slice('/build/'.length)), proxy.caPem);
    const logFile = join(top, 'log');
    const r = await runSandbox({
      ...(req.signal ? { signal: req.signal } : {}),
      worldDir,
      ...(composefs ? { composefs } : {}),
      buildDir,
      outputDir,
      cwd: '/build/src',
      argv: ['/bin/sh', '-eu', '-c', req.script],
      sourceDateEpoch,
      jobs: req.jobs ?? cpus().length,
      timeoutMs: req.timeoutMs ?? 1800_000,
      ...(req.limits ? { limits: req.limits } : {}),
      logPath: logFile,
      extraEnv: { ...(req.env ?? {}), ...fetchEnv() },
      network: { socketPath: proxy.socketPath, port: FETCH_PROXY_PORT, dir: sockDir },
    });
    const outcome = await proxy.stop();
    stopped = true;
    const log = await store.putBlob(await fs.readFile(logFile));
    const logPath = store.blobPath(log);
    const failure = fetchProxyFailure(what, outcome.problems);
    if (failure) {
      failure.data.log = log;
      failure.data.logPath = logPath;
      throw failure;
    }
    if (r.exitCode !== 0) {
      const tail = (await fs.readFile(logFile, 'utf8')).trim().split('\n').slice(-5).join('\n  ');
      throw new BuildFailedError(
        `${what}: fetch ${r.timedOut ? 'timed out' : `failed (exit ${r.exitCode ?? r.signal})`}; log ${log}:\n  ${tail}`,
        {
          data: { label: req.label, log, logPath, exitCode: r.exitCode, timedOut: r.timedOut },
          hint: `full log: ${logPath}`,
        },
      );
    }
    const output = (await store.ingest(outputDir)).digest;
    return {
      output,
      lock: outcome.lock,
      served: outcome.served,
      log,
      logPath,
      world: world.root,
      sources: sources.map((s) => s.digest),
      sourceDateEpoch,
    };
  } finally {
    if (!stopped) await proxy.stop().catch(() => undefined);
    await fs.rm(top, { recursive: true, force: true });
    await fs.rm(sockDir, { recursive: true, force: true });
  }
}
