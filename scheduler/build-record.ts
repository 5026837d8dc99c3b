/**
 * Build records and action-cache entries (pure): what the action cache says about an action that
 * ran to completion, its canonical encoding and its validating parser.
 *
 * @see specs/action.md §4 (build record), §5 (cache entry)
 */
import {
  CorruptObjectError,
  EncodingError,
  digestCanonical,
  encodeCanonical,
  parseCanonical,
  parseDigest,
  validateSignature,
  type Digest,
  type Signature,
} from '../src/kernel/index.ts';

/** Format name of a build record. @see specs/action.md §4 */
export const BUILD_RECORD_FORMAT = 'eos.build-record';
/** Format name of an action-cache entry. @see specs/action.md §5 */
export const CACHE_ENTRY_FORMAT = 'eos.action-cache-entry';
/** Version of both formats. */
export const BUILD_RECORD_VERSION = 1;

/**
 * What one completed action produced.
 *
 * shape: digests are `blake3:<64 hex>`; units: `durationMs` in whole milliseconds (wall time of
 * the executor). @see specs/action.md §4
 */
export interface BuildRecord {
  format: typeof BUILD_RECORD_FORMAT;
  version: typeof BUILD_RECORD_VERSION;
  /** The action id this record answers. */
  action: Digest;
  /** The output tree digest (in the store). */
  output: Digest;
  /** The root of the composition the action ran in (its world). */
  world: Digest;
  /** The digest of the build log blob (in the store). */
  log: Digest;
  /** Wall time of the build, whole milliseconds. */
  durationMs: number;
  /** The seed mode the action ran under. */
  seedMode: string;
  /** The executor's full build record blob (`specs/build-record.md`: sources, recipe, warnings, …), or null. */
  details: Digest | null;
}

/**
 * A detached signature over a record digest (`specs/signatures.md`), purpose `builds`; its `signed`
 * field must equal the record's digest. @see specs/action.md §5
 */
export type RecordSignature = Signature;

/** An action-cache entry: a build record and its detached signatures. @see specs/action.md §5 */
export interface CacheEntry {
  format: typeof CACHE_ENTRY_FORMAT;
  version: typeof BUILD_RECORD_VERSION;
  record: BuildRecord;
  signatures: RecordSignature[];
}

/** The fields of a build record that callers provide (`details` defaults to null). */
export type BuildRecordFields = Omit<BuildRecord, 'format' | 'version' | 'details'> & {
  details?: Digest | null;
};

/**
 * Makes a validated build record.
 * @throws DigestError E2 for a bad digest field; EncodingError E3 for a bad duration or seed mode
 * @see specs/action.md §4
 */
export function makeBuildRecord(f: BuildRecordFields): BuildRecord {
  if (!Number.isSafeInteger(f.durationMs) || f.durationMs < 0)
    throw new EncodingError(`build record: durationMs ${f.durationMs} is not a non-negative integer`, {
      data: { field: 'durationMs' },
    });
  if (typeof f.seedMode !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test(f.seedMode))
    throw new EncodingError(`build record: seedMode ${JSON.stringify(f.seedMode)} is not a lowercase word`, {
      data: { field: 'seedMode' },
    });
  return {
    format: BUILD_RECORD_FORMAT,
    version: BUILD_RECORD_VERSION,
    action: parseDigest(f.action, 'build record: action'),
    output: parseDigest(f.output, 'build record: output'),
    world: parseDigest(f.world, 'build record: world'),
    log: parseDigest(f.log, 'build record: log'),
    durationMs: f.durationMs,
    seedMode: f.seedMode,
    details: f.details == null ? null : parseDigest(f.details, 'build record: details'),
  };
}

/** The digest of a build record (what signers sign). @see specs/action.md §4 */
export function buildRecordDigest(r: BuildRecord): Digest {
  return digestCanonical(r);
}

/** Encodes an action-cache entry canonically. @throws EncodingError E3 @see specs/action.md §5 */
export function encodeCacheEntry(entry: CacheEntry): Uint8Array {
  return encodeCanonical(entry);
}

function field(o: Record<string, unknown>, k: string, what: string): unknown {
  if (!(k in o)) throw new EncodingError(`${what}: missing field ${k}`, { data: { what, field: k } });
  return o[k];
}

/**
 * Parses and validates an action-cache entry's bytes; with `expectAction`, also checks that it
 * answers that action id (an entry filed under another id is corrupt).
 * @param what names the file in errors
 * @throws EncodingError E3 when the bytes are not canonical, the format or version is unknown, or a
 *   field is missing or malformed
 * @throws CorruptObjectError E5 when the record answers another action, or a signature signs
 *   another digest (a malformed signature object is E3)
 * @see specs/action.md §5
 */
export function parseCacheEntry(bytes: Uint8Array, what: string, expectAction?: Digest): CacheEntry {
  const v = parseCanonical(bytes, what);
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new EncodingError(`${what}: not an object`, { data: { what } });
  if (field(v, 'format', what) !== CACHE_ENTRY_FORMAT || field(v, 'version', what) !== BUILD_RECORD_VERSION)
    throw new EncodingError(`${what}: not an ${CACHE_ENTRY_FORMAT} version ${BUILD_RECORD_VERSION}`, {
      data: { what },
    });
  const r = field(v, 'record', what) as Record<string, unknown>;
  if (r === null || typeof r !== 'object' || Array.isArray(r))
    throw new EncodingError(`${what}: record is not an object`, { data: { what } });
  if (field(r, 'format', what) !== BUILD_RECORD_FORMAT || field(r, 'version', what) !== BUILD_RECORD_VERSION)
    throw new EncodingError(
      `${what}: record is not an ${BUILD_RECORD_FORMAT} version ${BUILD_RECORD_VERSION}`,
      {
        data: { what },
      },
    );
  const known = new Set([
    'format',
    'version',
    'action',
    'output',
    'world',
    'log',
    'durationMs',
    'seedMode',
    'details',
  ]);
  for (const k of Object.keys(r))
    if (!known.has(k)) throw new EncodingError(`${what}: record has unknown field ${k}`, { data: { what } });
  const record = makeBuildRecord({
    action: field(r, 'action', what) as Digest,
    output: field(r, 'output', what) as Digest,
    world: field(r, 'world', what) as Digest,
    log: field(r, 'log', what) as Digest,
    durationMs: field(r, 'durationMs', what) as number,
    seedMode: field(r, 'seedMode', what) as string,
    details: field(r, 'details', what) as Digest | null,
  });
  if (expectAction !== undefined && record.action !== expectAction)
    throw new CorruptObjectError(`${what}: filed under ${expectAction} but records ${record.action}`, {
      data: { what, expected: expectAction, actual: record.action },
    });
  const sigs = field(v, 'signatures', what);
  if (!Array.isArray(sigs)) throw new EncodingError(`${what}: signatures is not a list`, { data: { what } });
  const rd = buildRecordDigest(record);
  for (const [i, s] of sigs.entries()) {
    if (validateSignature(s, `${what}: signatures[${i}]`).signed !== rd)
      throw new CorruptObjectError(`${what}: signatures[${i}] signs another digest than the record ${rd}`, {
        data: { what, record: rd },
      });
  }
  const extra = Object.keys(v).filter((k) => !['format', 'version', 'record', 'signatures'].includes(k));
  if (extra.length) throw new EncodingError(`${what}: unknown field ${extra[0]}`, { data: { what } });
  return {
    format: CACHE_ENTRY_FORMAT,
    version: BUILD_RECORD_VERSION,
    record,
    signatures: sigs as RecordSignature[],
  };
}
