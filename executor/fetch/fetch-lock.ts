/**
 * `fetch.lock`: what a recorded fetch received, one entry per distinct request (method, URL and,
 * for a request with a body, the body's digest): the response status, the headers that matter and
 * the digest of the response body as it came over the wire (the body itself is a store blob).
 * Canonical JSON; pure encode/parse.
 *
 * @see specs/fetch.md §3
 */
import { digestSchema } from '../digest-schema.ts';
import {
  EncodingError,
  encodeCanonical,
  FetchLockError,
  lazySchemas,
  parseCanonicalWith,
  type Digest,
} from '../../src/kernel/index.ts';

/** The format name and version written and accepted. */
export const FETCH_LOCK_FORMAT = 'eos.fetch-lock';
export const FETCH_LOCK_VERSION = 1;

/**
 * The response headers a lock keeps (lower-case), and replay sends back: the ones that change
 * what a client does with the body. Every other header (dates, caching, CDN ids) is dropped.
 */
export const KEPT_HEADERS = ['content-encoding', 'content-type', 'location'] as const;

/** One recorded exchange. */
export interface FetchEntry {
  /** The request method, upper case. */
  method: string;
  /** The absolute URL the client asked for (scheme, host, path and query). */
  url: string;
  /** Digest of the request body, for a request that had one (else null). */
  request: Digest | null;
  /** The response status code. */
  status: number;
  /** The kept response headers ({@link KEPT_HEADERS}), names lower-case. */
  headers: Record<string, string>;
  /** blake3 of the response body bytes as received (still content-encoded). */
  body: Digest;
  /** The body's size in bytes. */
  size: number;
}

/** A fetch lock. */
export interface FetchLock {
  format: typeof FETCH_LOCK_FORMAT;
  version: typeof FETCH_LOCK_VERSION;
  /** Sorted by (method, url, request); one entry per key. */
  entries: FetchEntry[];
}

/** The zod schema, made on first use (src/kernel/lazy-modules.ts). */
const lockSchema = lazySchemas((z) => {
  const entrySchema = z.strictObject({
    method: z.string().regex(/^[A-Z]+$/),
    url: z.string().regex(/^https?:\/\/[^\s]+$/),
    request: digestSchema().nullable(),
    status: z.int().min(100).max(599),
    headers: z.partialRecord(z.enum(KEPT_HEADERS), z.string()),
    body: digestSchema(),
    size: z.int().min(0),
  });

  return z.strictObject({
    format: z.literal(FETCH_LOCK_FORMAT),
    version: z.literal(FETCH_LOCK_VERSION),
    entries: z.array(entrySchema),
  });
});

/** The key an entry is found by: method, URL, request-body digest (or `-`). */
export function fetchEntryKey(e: Pick<FetchEntry, 'method' | 'url' | 'request'>): string {
  return `${e.method} ${e.url} ${e.request ?? '-'}`;
}

function byKey(a: FetchEntry, b: FetchEntry): number {
  const ka = fetchEntryKey(a);
  const kb = fetchEntryKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** A lock from entries: sorted by key, the first entry of a key kept. */
export function makeFetchLock(entries: Iterable<FetchEntry>): FetchLock {
  const seen = new Map<string, FetchEntry>();
  for (const e of entries) if (!seen.has(fetchEntryKey(e))) seen.set(fetchEntryKey(e), e);
  return { format: FETCH_LOCK_FORMAT, version: FETCH_LOCK_VERSION, entries: [...seen.values()].sort(byKey) };
}

/** Encodes a lock: canonical JSON (RFC 8785) of {@link makeFetchLock}'s form. @throws EncodingError E3 */
export function encodeFetchLock(lock: FetchLock): Uint8Array {
  return encodeCanonical(makeFetchLock(lock.entries));
}

/**
 * Parses a lock's bytes.
 * @param what names the file in errors
 * @throws FetchLockError E54 when the bytes are not canonical JSON, a field is wrong, or the
 *   entries are unsorted or repeat a key (a lock only Eos writes: a hand edit shows)
 */
export function parseFetchLock(bytes: Uint8Array, what = 'fetch.lock'): FetchLock {
  let lock: FetchLock;
  try {
    lock = parseCanonicalWith(lockSchema(), bytes, what, FetchLockError) as FetchLock;
  } catch (e) {
    if (e instanceof EncodingError)
      throw new FetchLockError(`${what}: not a canonical fetch lock (${e.detail})`, {
        data: { file: what },
        hint: 'fetch.lock is written by eos fetch --record; record again rather than editing it',
      });
    throw e;
  }
  for (let i = 1; i < lock.entries.length; i++)
    if (byKey(lock.entries[i - 1]!, lock.entries[i]!) >= 0)
      throw new FetchLockError(
        `${what}: entries[${i}]: out of order or repeated (${fetchEntryKey(lock.entries[i]!)})`,
        {
          data: { file: what, index: i },
        },
      );
  return lock;
}
