/**
 * The fetch proxy: an HTTP(S) proxy (mockttp) with a throwaway CA made for this one fetch, run in
 * our process, outside any sandbox. It listens on a host loopback port and, for the fetch's network
 * namespace, on a unix socket that a forwarder inside the namespace connects to (specs/fetch.md §4).
 *
 * - `record`: every request is passed through to the real server; each response body is stored as
 *   a blob as it came over the wire and an entry (method, URL, status, kept headers, body digest) is
 *   kept. Given the lock of an earlier recording, a URL whose bytes differ from its kept digest is
 *   refused (the client gets a 502) and reported as a mismatch (E13).
 * - `replay`: nothing leaves the machine. A request in the lock is answered from the store after its
 *   bytes are checked against the kept digest; any other request is refused (403) and reported.
 *
 * The outcome lists what went wrong; {@link fetchProxyFailure} turns it into the named error.
 *
 * @see specs/fetch.md §4–§5
 */
import * as fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { join } from 'node:path';
import type * as Mockttp from 'mockttp';
import {
  digestBytes,
  FetchProxyError,
  FixedOutputMismatchError,
  RecordingMissingError,
  UnrecordedRequestError,
  type Digest,
  type EosError,
  type Store,
  extraCaCertificates,
} from '../../src/kernel/index.ts';
import { fetchEntryKey, KEPT_HEADERS, makeFetchLock, type FetchEntry, type FetchLock } from './fetch-lock.ts';

/** `record` passes through and records; `replay` serves only the lock. */
export type FetchMode = 'record' | 'replay';

/** What the proxy is given. */
export interface FetchProxyOptions {
  store: Store;
  mode: FetchMode;
  /** Replay: the lock to serve (required). Record: an earlier lock whose digests must still hold (optional). */
  lock?: FetchLock;
  /** A directory of ours where the unix socket and the CA file are made (short path: sockets are ≤107 bytes). */
  dir: string;
}

/** A request the proxy refused, or a body that did not match. */
export interface FetchProblem {
  kind: 'unrecorded' | 'missing' | 'changed';
  method: string;
  url: string;
  /** `changed`: the kept digest and the one received (record) or read from the store (replay). `missing`: the kept digest. */
  expected?: Digest;
  got?: Digest;
}

/** What a proxy saw, when stopped. */
export interface FetchProxyOutcome {
  /** Record: the new lock (every distinct request answered by the server). Replay: the given lock. */
  lock: FetchLock;
  /** Requests served (record: passed through; replay: answered from the store). */
  served: number;
  problems: FetchProblem[];
}

/** A running proxy. */
export interface FetchProxy {
  /** The unix socket the namespace's forwarder connects to. */
  socketPath: string;
  /** The host loopback port (for use outside a namespace, e.g. tests). */
  port: number;
  /** The throwaway CA certificate (PEM), and a file holding it. */
  caPem: string;
  caPath: string;
  /** Stops the proxy and reports. Idempotent. */
  stop(): Promise<FetchProxyOutcome>;
}

function keptHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of KEPT_HEADERS) {
    const v = h[k];
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

function requestDigest(buf: Buffer): Digest | null {
  return buf.length > 0 ? digestBytes(buf) : null;
}

/** The refusal body a client sees (and the log shows). */
function refusal(
  status: number,
  text: string,
): { statusCode: number; headers: Record<string, string>; rawBody: Buffer } {
  return {
    statusCode: status,
    headers: { 'content-type': 'text/plain', 'x-eos-fetch': 'refused' },
    rawBody: Buffer.from(`eos fetch proxy: ${text}\n`),
  };
}

/**
 * Starts a proxy (see the module comment).
 * @throws FetchProxyError E52 when the CA cannot be made or the proxy cannot listen; for replay without a lock
 */
export async function startFetchProxy(opts: FetchProxyOptions): Promise<FetchProxy> {
  if (opts.mode === 'replay' && !opts.lock) throw new FetchProxyError('replay needs a fetch lock');
  const { store, mode } = opts;
  const kept = new Map((opts.lock?.entries ?? []).map((e) => [fetchEntryKey(e), e]));
  const recorded: FetchEntry[] = [];
  const problems: FetchProblem[] = [];
  let served = 0;
  let ca: { key: string; cert: string };
  let server: Mockttp.Mockttp;
  try {
    // Loaded here, not at module load: a build that fetches nothing never pays for it (~0.4 s).
    // By require, not import(): the compiled CLI is a CommonJS script run from V8's code cache,
    // where Node 20 has no dynamic-import callback (specs/cli.md §1.7).
    const mockttp = createRequire(import.meta.url)('mockttp') as typeof Mockttp;
    ca = await mockttp.generateCACertificate({
      bits: 2048,
      subject: { commonName: 'eos fetch throwaway CA' },
    });
    server = mockttp.getLocal({ https: { key: ca.key, cert: ca.cert }, http2: false });
    const extraCa = extraCaCertificates();
    if (mode === 'record')
      await server.forAnyRequest().thenPassThrough({
        // Upstream hosts are checked against NODE_EXTRA_CA_CERTS's certificates too (specs/cli.md §1.9).
        ...(extraCa ? { additionalTrustedCAs: [{ cert: extraCa }] } : {}),
        beforeResponse: async (res, req) => {
          const body = res.body.buffer;
          const entry: FetchEntry = {
            method: req.method.toUpperCase(),
            url: req.url,
            request: requestDigest(req.body.buffer),
            status: res.statusCode,
            headers: keptHeaders(res.headers),
            body: digestBytes(body),
            size: body.length,
          };
          const old = kept.get(fetchEntryKey(entry));
          if (old && (old.body !== entry.body || old.status !== entry.status)) {
            problems.push({
              kind: 'changed',
              method: entry.method,
              url: entry.url,
              expected: old.body,
              got: entry.body,
            });
            return refusal(
              502,
              `${entry.method} ${entry.url}: the bytes changed under the kept digest ${old.body}`,
            );
          }
          await store.putBlob(body);
          recorded.push(entry);
          served++;
          return undefined;
        },
      });
    else
      await server.forAnyRequest().thenCallback(async (req) => {
        const method = req.method.toUpperCase();
        const key = fetchEntryKey({ method, url: req.url, request: requestDigest(req.body.buffer) });
        const e = kept.get(key);
        if (!e) {
          problems.push({ kind: 'unrecorded', method, url: req.url });
          return refusal(
            403,
            `${method} ${req.url} is not in fetch.lock (replay serves only recorded requests)`,
          );
        }
        let bytes: Buffer;
        try {
          bytes = await fs.readFile(store.blobPath(e.body));
        } catch {
          problems.push({ kind: 'missing', method, url: req.url, expected: e.body });
          return refusal(403, `${method} ${req.url}: recorded body ${e.body} is not in the store`);
        }
        const got = digestBytes(bytes);
        if (got !== e.body) {
          problems.push({ kind: 'changed', method, url: req.url, expected: e.body, got });
          return refusal(403, `${method} ${req.url}: stored body does not match its kept digest ${e.body}`);
        }
        served++;
        return {
          statusCode: e.status,
          headers: { ...e.headers, 'content-length': String(bytes.length) },
          rawBody: bytes,
        };
      });
    await server.start();
  } catch (e) {
    throw new FetchProxyError(`cannot start the fetch proxy: ${(e as Error).message}`, { cause: e });
  }
  const port = server.port;
  const caPath = join(opts.dir, 'ca.pem');
  await fs.writeFile(caPath, ca.cert);
  // The namespace's side: each unix-socket connection is piped to the proxy's loopback port.
  const socketPath = join(opts.dir, 'proxy.sock');
  const conns = new Set<net.Socket>();
  const bridge = net.createServer((c) => {
    conns.add(c);
    const up = net.connect(port, '127.0.0.1');
    conns.add(up);
    c.pipe(up).pipe(c);
    const end = (): void => {
      c.destroy();
      up.destroy();
      conns.delete(c);
      conns.delete(up);
    };
    c.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve, reject) => {
    bridge.once('error', (e) =>
      reject(new FetchProxyError(`fetch proxy: cannot listen on ${socketPath}: ${e.message}`)),
    );
    bridge.listen(socketPath, resolve);
  }).catch(async (e: unknown) => {
    await server.stop();
    throw e;
  });
  let outcome: Promise<FetchProxyOutcome> | undefined;
  return {
    socketPath,
    port,
    caPem: ca.cert,
    caPath,
    stop: () =>
      (outcome ??= (async () => {
        for (const c of conns) c.destroy();
        await new Promise<void>((r) => bridge.close(() => r()));
        await server.stop();
        return {
          lock: mode === 'record' ? makeFetchLock(recorded) : opts.lock!,
          served,
          problems,
        };
      })()),
  };
}

/**
 * The named error for a proxy's problems (the first of each kind is named, all are in `data`), or
 * undefined when there were none. Precedence: a changed body (E13), a missing body (E55), an
 * unrecorded request (E53).
 * @param what names the fetch (the atom)
 */
export function fetchProxyFailure(what: string, problems: FetchProblem[]): EosError | undefined {
  const data = { problems: problems as unknown as Record<string, unknown>[] };
  const changed = problems.find((p) => p.kind === 'changed');
  if (changed)
    return new FixedOutputMismatchError(
      `fixed-output hash mismatch for ${what}: ${changed.method} ${changed.url}: expected ${changed.expected}, got ${changed.got}`,
      {
        data,
        hint: 'the recorded bytes and the ones now served differ; if the new bytes are right, record again',
      },
    );
  const missing = problems.find((p) => p.kind === 'missing');
  if (missing)
    return new RecordingMissingError(
      `${what}: ${missing.method} ${missing.url}: recorded body ${missing.expected} is not in the store; record again`,
      { data },
    );
  const unrecorded = problems.filter((p) => p.kind === 'unrecorded');
  if (unrecorded.length > 0)
    return new UnrecordedRequestError(
      `${what}: unrecorded request ${unrecorded[0]!.method} ${unrecorded[0]!.url}` +
        (unrecorded.length > 1 ? ` (and ${unrecorded.length - 1} more)` : '') +
        ' (replay serves only fetch.lock)',
      { data, hint: 'record the fetch again (eos fetch --record) if the atom now needs more' },
    );
  return undefined;
}
