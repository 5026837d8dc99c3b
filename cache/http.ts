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
import { CacheTransportError, digestHex, encodeCanonical, type Digest } from '../src/kernel/index.ts';
import type { CacheBackend, CacheHit, ObjectKind, PushCounts, PushObject } from './backend.ts';

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

/** How many HEAD requests a push keeps in flight. */
const PROBES_IN_FLIGHT = 8;

/**
 * A binary cache at an `http://` or `https://` base URL.
 * @see specs/cache.md §2.1
 */
export class HttpCache implements CacheBackend {
  private readonly base: string;
  constructor(readonly url: string) {
    this.base = url.endsWith('/') ? url : `${url}/`;
  }

  private async request(method: string, path: string, body?: Uint8Array): Promise<Response> {
    const url = this.base + path;
    try {
      return await fetch(url, {
        method,
        ...(body ? { body, headers: { 'content-type': 'application/octet-stream' } } : {}),
      });
    } catch (e) {
      throw this.transport(`${method} ${url}`, e);
    }
  }

  private transport(what: string, e: unknown): CacheTransportError {
    const c = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = c?.code ?? c?.message ?? (e as Error).message;
    return new CacheTransportError(`cache ${this.url}: ${what}: ${why}`, {
      data: { url: this.url, reason: why },
      cause: e,
    });
  }

  /** GET: the body, or undefined on 404. @throws CacheTransportError E58 */
  private async get(path: string): Promise<Uint8Array | undefined> {
    const r = await this.request('GET', path);
    if (r.status === 404) {
      await r.body?.cancel();
      return undefined;
    }
    if (r.status !== 200) {
      await r.body?.cancel();
      throw new CacheTransportError(`cache ${this.url}: GET ${path}: HTTP ${r.status}`, {
        data: { url: this.url, status: r.status },
      });
    }
    try {
      const bytes = new Uint8Array(await r.arrayBuffer());
      const want = r.headers.get('content-length');
      if (want !== null && Number(want) !== bytes.length) throw new Error(`${bytes.length} of ${want} bytes`);
      return bytes;
    } catch (e) {
      throw this.transport(`GET ${path}: transfer cut short`, e);
    }
  }

  private async has(path: string): Promise<boolean> {
    const r = await this.request('HEAD', path);
    if (r.status === 200) return true;
    if (r.status === 404) return false;
    throw new CacheTransportError(`cache ${this.url}: HEAD ${path}: HTTP ${r.status}`, {
      data: { url: this.url, status: r.status },
    });
  }

  private async put(path: string, bytes: Uint8Array): Promise<void> {
    const r = await this.request('PUT', path, bytes);
    await r.body?.cancel();
    if (r.status !== 200 && r.status !== 201 && r.status !== 204)
      throw new CacheTransportError(`cache ${this.url}: PUT ${path}: HTTP ${r.status}`, {
        data: { url: this.url, status: r.status },
      });
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
    const present = new Array<boolean>(objects.length);
    for (let i = 0; i < objects.length; i += PROBES_IN_FLIGHT) {
      const slice = objects.slice(i, i + PROBES_IN_FLIGHT);
      const got = await Promise.all(slice.map((o) => this.has(httpCachePath(o.kind, o.digest))));
      got.forEach((g, j) => (present[i + j] = g));
    }
    const counts: PushCounts = { sent: 0, sentBytes: 0, present: 0, entrySent: false };
    // Children first (the order given), so a tree on the server always has its closure.
    for (const [i, o] of objects.entries()) {
      if (present[i]) {
        counts.present++;
        continue;
      }
      await this.put(httpCachePath(o.kind, o.digest), await o.bytes());
      counts.sent++;
      counts.sentBytes += o.size;
    }
    const path = httpCachePath('action', action);
    const old = await this.get(path);
    if (!old || Buffer.compare(Buffer.from(old), Buffer.from(entry)) !== 0) {
      await this.put(path, entry);
      counts.entrySent = true;
    }
    return counts;
  }

  close(): void {}
}
