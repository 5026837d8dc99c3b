/**
 * The HTTP(S) binary cache: a plain file tree any static file server or S3-compatible bucket can
 * hold, read with GET and written with PUT (nginx with WebDAV `PUT`, a bucket with a signed-URL
 * proxy, …). Every path is content-addressed except the entries, which are named by action id:
 *
 *   BASE/eos-cache.json            {"format":"eos.binary-cache","version":1}
 *   BASE/actions/<2 hex>/<62 hex>  an eos.action-cache-entry (the signed build record)
 *   BASE/objects/<2 hex>/<62 hex>  a blob
 *   BASE/trees/<2 hex>/<62 hex>    a tree encoding
 *
 * A 404 is "the cache lacks it"; any other status, a refused connection or a body cut short is
 * `CacheTransportError` E58.
 *
 * @see specs/cache.md §2.1
 */
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';
import {
  CacheTransportError,
  digestHex,
  encodeCanonical,
  tlsCaCertificates,
  type Digest,
} from '../src/kernel/index.ts';
import type { CacheBackend, CacheHit, ObjectKind, PushCounts, PushObject } from './backend.ts';
import { TRANSFERS_IN_FLIGHT, limiter, settleAll } from './limit.ts';

// node:http and node:https (with tls, net and crypto: ~15 ms of a start) are loaded when a cache
// is opened, not with every `eos build` that merely could use one (specs/cli.md §1.4).
const require = createRequire(import.meta.url);
const http = (): typeof Http => require('node:http') as typeof Http;
const https = (): typeof Https => require('node:https') as typeof Https;

/** Format tag of the marker file at the root of an HTTP cache. @see specs/cache.md §2.1 */
export const HTTP_CACHE_FORMAT = 'eos.binary-cache';
/** Version of the HTTP cache layout. */
export const HTTP_CACHE_VERSION = 1;

/** The path (below the base URL) of an entry or an object. @see specs/cache.md §2.1 */
export function httpCachePath(kind: ObjectKind | 'action', d: Digest): string {
  const hex = digestHex(d);
  const dir = kind === 'action' ? 'actions' : kind === 'tree' ? 'trees' : 'objects';
  return `${dir}/${hex.slice(0, 2)}/${hex.slice(2)}`;
}

/** One HTTP answer: status, headers and the whole body. */
interface Answer {
  status: number;
  body: Buffer;
}

/**
 * A binary cache at an `http://` or `https://` base URL. Requests go through one keep-alive agent
 * per cache, at most {@link TRANSFERS_IN_FLIGHT} connections (more requests wait for one).
 * @see specs/cache.md §2.1
 */
export class HttpCache implements CacheBackend {
  private readonly base: URL;
  private readonly agent: Http.Agent;
  constructor(readonly url: string) {
    this.base = new URL(url.endsWith('/') ? url : `${url}/`);
    const opts = { keepAlive: true, maxSockets: TRANSFERS_IN_FLIGHT, maxFreeSockets: TRANSFERS_IN_FLIGHT };
    // An https agent trusts NODE_EXTRA_CA_CERTS's certificates too (specs/cli.md §1.9).
    const ca = tlsCaCertificates();
    this.agent =
      this.base.protocol === 'https:'
        ? new (https().Agent)({ ...opts, ...(ca ? { ca } : {}) })
        : new (http().Agent)(opts);
  }

  /**
   * One request, its whole answer read (HEAD: no body). A refused connection, a reset, or a body
   * shorter than its Content-Length is E58.
   * @throws CacheTransportError E58
   */
  private request(method: string, path: string, body?: Uint8Array): Promise<Answer> {
    const url = new URL(path, this.base);
    const what = `${method} ${url.href}`;
    const mod = url.protocol === 'https:' ? https() : http();
    return new Promise<Answer>((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method,
          agent: this.agent,
          headers: body ? { 'content-type': 'application/octet-stream', 'content-length': body.length } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (e) => reject(this.transport(`${what}: transfer cut short`, e)));
          res.on('aborted', () =>
            reject(this.transport(`${what}: transfer cut short`, new Error('aborted'))),
          );
          res.on('end', () => {
            const b = Buffer.concat(chunks);
            const want = res.headers['content-length'];
            if (method !== 'HEAD' && res.complete === false)
              return reject(this.transport(`${what}: transfer cut short`, new Error(`${b.length} bytes`)));
            if (method !== 'HEAD' && want !== undefined && Number(want) !== b.length)
              return reject(
                this.transport(`${what}: transfer cut short`, new Error(`${b.length} of ${want} bytes`)),
              );
            resolve({ status: res.statusCode ?? 0, body: b });
          });
        },
      );
      req.on('error', (e) => reject(this.transport(what, e)));
      req.end(body);
    });
  }

  private transport(what: string, e: unknown): CacheTransportError {
    const c = e as { code?: string; message?: string };
    const why = c.code ?? c.message ?? String(e);
    return new CacheTransportError(`cache ${this.url}: ${what}: ${why}`, {
      data: { url: this.url, reason: why },
      cause: e,
    });
  }

  private status(method: string, path: string, status: number): CacheTransportError {
    return new CacheTransportError(`cache ${this.url}: ${method} ${path}: HTTP ${status}`, {
      data: { url: this.url, status },
    });
  }

  /** GET: the body, or undefined on 404. @throws CacheTransportError E58 */
  private async get(path: string): Promise<Uint8Array | undefined> {
    const r = await this.request('GET', path);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw this.status('GET', path, r.status);
    return new Uint8Array(r.body.buffer, r.body.byteOffset, r.body.length);
  }

  private async has(path: string): Promise<boolean> {
    const r = await this.request('HEAD', path);
    if (r.status === 200) return true;
    if (r.status === 404) return false;
    throw this.status('HEAD', path, r.status);
  }

  private async put(path: string, bytes: Uint8Array): Promise<void> {
    const r = await this.request('PUT', path, bytes);
    if (r.status !== 200 && r.status !== 201 && r.status !== 204) throw this.status('PUT', path, r.status);
  }

  async lookup(action: Digest): Promise<CacheHit | undefined> {
    const entry = await this.get(httpCachePath('action', action));
    if (!entry) return undefined;
    return { entry, object: (kind, d) => this.get(httpCachePath(kind, d)) };
  }

  async push(action: Digest, entry: Uint8Array, objects: readonly PushObject[]): Promise<PushCounts> {
    if (!(await this.has('eos-cache.json')))
      await this.put(
        'eos-cache.json',
        encodeCanonical({ format: HTTP_CACHE_FORMAT, version: HTTP_CACHE_VERSION }),
      );
    // HEAD top-down, TRANSFERS_IN_FLIGHT at once (a fresh limiter: one failure stops this push
    // only): a tree the server holds has its closure there (pushes write children first), so its
    // descendants are not asked about; a missing tree's children are.
    const limit = limiter(TRANSFERS_IN_FLIGHT);
    const byDigest = new Map(objects.map((o) => [o.digest, o]));
    const isChild = new Set(objects.flatMap((o) => o.children ?? []));
    const found = new Set<Digest>();
    const asked = new Set<Digest>();
    const holds = (o: PushObject) => {
      if (found.has(o.digest)) return;
      found.add(o.digest);
      for (const c of o.children ?? []) holds(byDigest.get(c)!);
    };
    const probe = async (o: PushObject): Promise<void> => {
      if (asked.has(o.digest) || found.has(o.digest)) return;
      asked.add(o.digest);
      if (await limit.run(() => this.has(httpCachePath(o.kind, o.digest)))) return holds(o);
      await settleAll((o.children ?? []).map((c) => probe(byDigest.get(c)!)));
    };
    await settleAll(objects.filter((o) => !isChild.has(o.digest)).map(probe));
    const present = objects.map((o) => found.has(o.digest));
    const counts: PushCounts = { sent: 0, sentBytes: 0, present: 0, entrySent: false };
    // PUT what is missing, TRANSFERS_IN_FLIGHT at once, each tree only after its children (the
    // order given is children first), so a tree on the server always has its closure.
    const done = new Map<Digest, Promise<void>>();
    for (const [i, o] of objects.entries()) {
      if (present[i]) {
        counts.present++;
        done.set(o.digest, Promise.resolve());
        continue;
      }
      const before = (o.children ?? []).map((c) => done.get(c)).filter((p) => p !== undefined);
      done.set(
        o.digest,
        (async () => {
          await Promise.all(before);
          await limit.run(async () => this.put(httpCachePath(o.kind, o.digest), await o.bytes()));
          counts.sent++;
          counts.sentBytes += o.size;
        })(),
      );
    }
    await settleAll([...done.values()]);
    // The entry last: a reader that finds it finds every object it names.
    const path = httpCachePath('action', action);
    const old = await this.get(path);
    if (!old || Buffer.compare(Buffer.from(old), Buffer.from(entry)) !== 0) {
      await this.put(path, entry);
      counts.entrySent = true;
    }
    return counts;
  }

  close(): void {
    this.agent.destroy();
  }
}
