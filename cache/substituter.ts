/**
 * Substitution: the rebuilder step that, before an action is built, asks the configured binary
 * caches for its action id. A hit is taken only when the entry is a valid cache entry for that
 * very action, at least one of its signatures verifies (purpose `builds`) by a key the local trust
 * policy trusts for `builds` or `cache`, and every object of its output closure (and its log)
 * hashes to its digest; then the objects enter the store, the entry is filed in the local action
 * cache (pinning its output and log) and where it came from is recorded under
 * `STORE/substitutions/`. Anything else is a refusal with a named error, and the next cache is
 * asked; when none answers, the action is built (or, with `requireCache`, fails).
 *
 * @see specs/cache.md §4 (trust), §5 (fetching), §3 (configuration and --require-cache)
 */
import { join } from 'node:path';
import {
  CacheRecordRefusedError,
  CacheRequiredError,
  EosError,
  digestHex,
  encodeCanonical,
  verifySignatures,
  writeFileAtomic,
  type Digest,
  type KeyId,
  type Keyring,
  type Store,
  type TrustPolicy,
} from '../src/kernel/index.ts';
import {
  buildRecordDigest,
  openActionCache,
  parseCacheEntry,
  type CacheEntry,
  type Rebuilder,
} from '../scheduler/index.ts';
import type { CacheBackend } from './backend.ts';
import { fetchClosure, storeClosure } from './closure.ts';

/** Format tag of a substitution record (`STORE/substitutions/<2 hex>/<62 hex>`). @see specs/cache.md §5.4 */
export const SUBSTITUTION_FORMAT = 'eos.substitution';
/** Version of the substitution record. */
export const SUBSTITUTION_VERSION = 1;

/** One action taken from a cache instead of built. */
export interface Substitution {
  action: Digest;
  /** The cache it came from. */
  cache: string;
  /** The record's digest (what its signature signs). */
  record: Digest;
  /** The output tree (or blob). */
  output: Digest;
  /** The key whose signature was accepted. */
  key: KeyId;
  /** Objects downloaded (the store lacked them) and their bytes. */
  objects: number;
  bytes: number;
  /** Wall time of the substitution, ms. */
  durationMs: number;
}

/** A cache that was asked and refused, or could not be read. */
export interface Refusal {
  action: Digest;
  cache: string;
  error: EosError;
}

/** The keys trusted for a cache's records: those of `builds` and of `cache`. */
export interface CacheTrust {
  keyring: Keyring;
  policy: TrustPolicy;
}

/** Options of {@link substitutingRebuilder}. */
export interface SubstituterOptions {
  store: Store;
  /** Asked in order; the first acceptable answer wins. */
  caches: readonly CacheBackend[];
  trust: CacheTrust;
  /** Fail an action no cache can substitute (instead of building it): E61, or the refusal. */
  requireCache?: boolean;
  onSubstituted?: (s: Substitution) => void;
  onRefused?: (r: Refusal) => void;
}

/** The path of an action's substitution record. @see specs/cache.md §5.4 */
export function substitutionPath(storeDir: string, action: Digest): string {
  const hex = digestHex(action);
  return join(storeDir, 'substitutions', hex.slice(0, 2), hex.slice(2));
}

/**
 * Checks a cache entry's bytes as an answer for `action`: a valid entry for that action, signed
 * (purpose `builds`) by a key trusted for `builds` or `cache`.
 * @returns the entry and the accepted key
 * @throws CacheRecordRefusedError E59 naming the cache, the action and the reason
 * @see specs/cache.md §4
 */
export function checkCacheEntry(
  bytes: Uint8Array,
  action: Digest,
  url: string,
  trust: CacheTrust,
): { entry: CacheEntry; key: KeyId } {
  const what = `cache ${url}: record of action ${action}`;
  let entry: CacheEntry;
  try {
    entry = parseCacheEntry(bytes, what, action);
  } catch (e) {
    if (!(e instanceof EosError)) throw e;
    throw new CacheRecordRefusedError(`${e.detail}; refused`, {
      data: { url, action, reason: 'malformed' },
      cause: e,
    });
  }
  const { keyring, policy } = trust;
  const trusted = [...new Set([...policy.purposes.builds, ...policy.purposes.cache])].sort();
  const merged: TrustPolicy = { ...policy, purposes: { ...policy.purposes, builds: trusted } };
  const res = verifySignatures(entry.signatures, buildRecordDigest(entry.record), 'builds', keyring, merged);
  const ok = res.accepted[0];
  if (ok) return { entry, key: ok.key };
  if (res.rejected.length === 0)
    throw new CacheRecordRefusedError(`${what} is unsigned; refused (sign builds with --sign-key)`, {
      data: { url, action, reason: 'unsigned' },
    });
  const first = res.rejected[0]!.error;
  const reason = (first.data as { reason?: string }).reason ?? 'bad-signature';
  throw new CacheRecordRefusedError(
    `${what}: ${first.detail}; refused (trusted for builds or cache: ${trusted.length} key(s))`,
    {
      data: { url, action, reason },
      cause: first,
    },
  );
}

/**
 * Tries one cache for `action`: on success the output closure and log are in the store, the entry
 * is filed in the local action cache and the substitution recorded.
 * @returns the substitution, or undefined on a miss
 * @throws CacheTransportError E58, CacheRecordRefusedError E59, CacheObjectRefusedError E60
 * @see specs/cache.md §5
 */
export async function substituteFrom(
  cache: CacheBackend,
  action: Digest,
  store: Store,
  trust: CacheTrust,
): Promise<{ entry: CacheEntry; substitution: Substitution } | undefined> {
  const t0 = Date.now();
  const hit = await cache.lookup(action);
  if (!hit) return undefined;
  const { entry, key } = checkCacheEntry(hit.entry, action, cache.url, trust);
  const { output, log } = entry.record;
  const closure = await fetchClosure(store, hit, [output, log], cache.url);
  await storeClosure(store, closure);
  await openActionCache(store).put(entry);
  const substitution: Substitution = {
    action,
    cache: cache.url,
    record: buildRecordDigest(entry.record),
    output,
    key,
    objects: closure.objects,
    bytes: closure.bytes,
    durationMs: Date.now() - t0,
  };
  const { durationMs: _t, ...kept } = substitution;
  await writeFileAtomic(
    substitutionPath(store.root, action),
    encodeCanonical({ format: SUBSTITUTION_FORMAT, version: SUBSTITUTION_VERSION, ...kept }),
    { mkdir: true },
  );
  return { entry, substitution };
}

/**
 * A rebuilder that asks `local` first and, for an action it does not hold, the caches in order.
 * @throws (from `check`, with `requireCache`) the first cache's refusal (E58/E59/E60), or
 *   CacheRequiredError E61 when no cache holds the action
 * @see specs/cache.md §3, §5
 */
export function substitutingRebuilder(local: Rebuilder, opts: SubstituterOptions): Rebuilder {
  return {
    async check(action) {
      const mine = await local.check(action);
      if (mine) return mine;
      let firstRefusal: EosError | undefined;
      for (const cache of opts.caches) {
        try {
          const got = await substituteFrom(cache, action, opts.store, opts.trust);
          if (got) {
            opts.onSubstituted?.(got.substitution);
            return got.entry;
          }
        } catch (e) {
          if (!(e instanceof EosError)) throw e;
          firstRefusal ??= e;
          opts.onRefused?.({ action, cache: cache.url, error: e });
        }
      }
      if (!opts.requireCache) return undefined;
      if (firstRefusal) throw firstRefusal;
      throw new CacheRequiredError(
        opts.caches.length
          ? `action ${action}: no configured cache holds it (asked ${opts.caches.map((c) => c.url).join(', ')}) and --require-cache forbids building it`
          : `action ${action}: no cache is configured (cache.toml or --substituters) and --require-cache forbids building it`,
        { data: { action, caches: opts.caches.map((c) => c.url) } },
      );
    },
    record: (fields) => local.record(fields),
  };
}
