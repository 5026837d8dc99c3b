/**
 * The rebuilder decides staleness only, with constructive traces: an action is up to date when
 * the action cache holds a record for its id (the id already covers every input, including the
 * dependencies' output trees), and, when the store is injected, the record's output still exists.
 * After a build it makes the record, signs it when a signer is injected, and stores it.
 *
 * @see specs/action.md §7, STYLE.md §4 (Build Systems à la Carte: Rebuilder)
 */
import {
  signDigest,
  verifySignatures,
  type Digest,
  type Keyring,
  type StatMemo,
  type Store,
  type TrustPolicy,
} from '../src/kernel/index.ts';
import { openActionCache, type ActionCache } from './action-cache.ts';
import {
  buildRecordDigest,
  makeBuildRecord,
  CACHE_ENTRY_FORMAT,
  CACHE_ENTRY_VERSION,
  type BuildRecordFields,
  type CacheEntry,
  type RecordSignature,
} from './build-record.ts';

/** Signs a record digest (injected; the keys module provides it). */
export interface RecordSigner {
  sign(recordDigest: Digest): RecordSignature | Promise<RecordSignature>;
}

/** Decides whether an action is up to date, and remembers built ones. */
export interface Rebuilder {
  /** The cache entry when `action` is up to date, else undefined (it must be built). */
  check(action: Digest): Promise<CacheEntry | undefined>;
  /** Records a completed build; returns the stored entry. @throws DigestError E2, EncodingError E3, IoError E12 */
  record(fields: BuildRecordFields): Promise<CacheEntry>;
}

/** Options of {@link constructiveRebuilder}. */
export interface RebuilderOptions {
  /** Signs every new record (the builder key). */
  signer?: RecordSigner;
  /** True when a tree is present in the store; a record whose output is gone is stale. */
  outputExists?: (tree: Digest) => Promise<boolean>;
  /**
   * When given, a record counts only if at least one of its signatures is by a key this policy
   * trusts for `builds` (an unsigned or untrusted record is stale, and the action is rebuilt).
   */
  trust?: { keyring: Keyring; policy: TrustPolicy };
  /**
   * When given, an entry it rejects is stale and the action is rebuilt (`eos build --observe`
   * rejects records without a read set, so each action runs observed once).
   */
  accept?: (entry: CacheEntry) => boolean;
}

/**
 * A signer with the builder key's 32-byte seed: signs record digests for the purpose `builds`.
 * @throws KeyError E9 (when signing) when the seed is not 32 bytes
 * @see specs/signatures.md
 */
export function keySigner(seed: Uint8Array): RecordSigner {
  return { sign: (d) => signDigest(d, 'builds', seed) };
}

/**
 * A rebuilder over constructive traces in an action cache.
 * @see specs/action.md §7
 */
export function constructiveRebuilder(cache: ActionCache, opts: RebuilderOptions = {}): Rebuilder {
  return {
    async check(action) {
      const entry = await cache.get(action);
      if (!entry) return undefined;
      if (opts.outputExists && !(await opts.outputExists(entry.record.output))) return undefined;
      if (opts.accept && !opts.accept(entry)) return undefined;
      if (opts.trust) {
        const { keyring, policy } = opts.trust;
        const res = verifySignatures(
          entry.signatures,
          buildRecordDigest(entry.record),
          'builds',
          keyring,
          policy,
        );
        if (res.accepted.length === 0) return undefined;
      }
      return entry;
    },
    async record(fields) {
      const record = makeBuildRecord(fields);
      const signatures = opts.signer ? [await opts.signer.sign(buildRecordDigest(record))] : [];
      const entry: CacheEntry = {
        format: CACHE_ENTRY_FORMAT,
        version: CACHE_ENTRY_VERSION,
        record,
        signatures,
      };
      await cache.put(entry);
      return entry;
    },
  };
}

/**
 * The rebuilder of a filesystem store: its action cache (`STORE/actions/`, roots pinned with the
 * store, entries read through `opts.memo` when given), and a record counts only while its output
 * tree (or blob) is still in the store.
 * @see specs/action.md §6, §7
 */
export function storeRebuilder(
  store: Store,
  opts: Pick<RebuilderOptions, 'signer' | 'trust' | 'accept'> & { memo?: StatMemo } = {},
): Rebuilder {
  return constructiveRebuilder(openActionCache(store, opts.memo), {
    ...opts,
    outputExists: async (d) => (await store.trees.has(d)) || (await store.blobs.has(d)),
  });
}
