/**
 * Build records and action-cache entries (pure): the one record of an action that ran to
 * completion — what it produced, in which world, and (from the executor) from what — its canonical
 * encoding and its validating parser, and the action-cache entry that files it with its signatures.
 * The executor makes the record of a real build (`details` filled in); the scheduler files it in
 * the action cache, signed once; an executor that keeps no details (a simulation) leaves
 * `details` null and the rebuilder makes the record.
 *
 * @see specs/action.md §4 (build record), §5 (cache entry)
 */
import type { z } from 'zod';
import {
  CorruptObjectError,
  DigestError,
  EncodingError,
  isDigest,
  lazyZod,
  digestCanonical,
  encodeCanonical,
  parseCanonical,
  validateSignature,
  type Digest,
  type Signature,
} from '../src/kernel/index.ts';

/** Format name of a build record. @see specs/action.md §4 */
export const BUILD_RECORD_FORMAT = 'eos.build-record';
/** Format name of an action-cache entry. @see specs/action.md §5 */
export const CACHE_ENTRY_FORMAT = 'eos.action-cache-entry';
/** Version of the build record (2: the executor's details are part of it). */
export const BUILD_RECORD_VERSION = 2;
/** Version of the action-cache entry. */
export const CACHE_ENTRY_VERSION = 1;

/**
 * The zod schemas of the record and its details, made on first use: zod is loaded lazily
 * (src/kernel/lazy-modules.ts), only to validate what {@link wellFormedRecord} does not accept at once.
 */
function makeSchemas(zod: typeof z) {
  const z = zod;
  /** A digest field; a bad one is reported as DigestError E2 (see `validateBuildRecord`). */
  const digest = z.custom<Digest>(isDigest, { message: 'is not a digest', params: { digest: true } });
  const nonNegative = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
  const word = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'is not a lowercase word');
  const recipeArg = z.union([
    z.string(),
    z.array(z.string()),
    z.boolean(),
    z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER),
    z.record(z.string(), z.string()),
  ]);

  /** The executor's part of a build record. @see specs/action.md §4.2 */
  const detailsSchema = z.strictObject({
    label: z.string().min(1),
    atomVersion: z.string().min(1),
    recipe: z.strictObject({
      name: z.string().min(1),
      identity: digest,
      args: z.record(z.string(), recipeArg),
    }),
    seed: z.strictObject({ mode: word, root: digest }),
    shadowed: z.array(
      z.strictObject({ path: z.string(), winner: z.string(), shadowed: z.array(z.string()) }),
    ),
    sources: z.array(digest),
    dependencies: z.array(z.strictObject({ name: z.string().min(1), tree: digest })),
    sourceDateEpoch: nonNegative,
    warnings: z.array(z.string()),
    /** The observed read set (specs/observe.md §3), only when the build ran in an observed world; absent otherwise. */
    readSet: digest.optional(),
  });

  const recordSchema = z.strictObject({
    format: z.literal(BUILD_RECORD_FORMAT),
    version: z.literal(BUILD_RECORD_VERSION),
    action: digest.nullable(),
    output: digest,
    world: digest,
    log: digest,
    durationMs: nonNegative,
    seedMode: word,
    details: detailsSchema.nullable(),
  });
  return { details: detailsSchema, record: recordSchema };
}
let schemas: ReturnType<typeof makeSchemas> | undefined;
const recordSchema = () => (schemas ??= makeSchemas(lazyZod())).record;

/**
 * What the executor adds to a build record: the atom, its recipe and arguments, the seed, the
 * world's shadowed paths, the fixed-output sources and dependency trees, `SOURCE_DATE_EPOCH`
 * (seconds) and the findings about the output. @see specs/action.md §4.2
 */
export type BuildDetails = z.infer<ReturnType<typeof makeSchemas>['details']>;

/**
 * The one record of a completed action.
 *
 * shape: digests are `blake3:<64 hex>`; units: `durationMs` in whole milliseconds (wall time of
 * the executor). `action` is null only for a build run outside the scheduler (`eos build-atom`),
 * and such a record is never filed in the action cache. @see specs/action.md §4
 */
export type BuildRecord = z.infer<ReturnType<typeof makeSchemas>['record']>;

/**
 * A detached signature over a record digest (`specs/signatures.md`), purpose `builds`; its `signed`
 * field must equal the record's digest. @see specs/action.md §5
 */
export type RecordSignature = Signature;

/** An action-cache entry: a build record and its detached signatures. @see specs/action.md §5 */
export interface CacheEntry {
  format: typeof CACHE_ENTRY_FORMAT;
  version: typeof CACHE_ENTRY_VERSION;
  /** The record; its `action` is never null here (the parser refuses it). */
  record: BuildRecord;
  signatures: RecordSignature[];
}

/** The fields of a build record that callers provide (`details` defaults to null). */
export type BuildRecordFields = Omit<BuildRecord, 'format' | 'version' | 'details'> & {
  details?: BuildDetails | null;
};

const WORD_RE = /^[a-z0-9][a-z0-9._-]*$/;
const isObject = (v: unknown): v is Record<string, unknown> => {
  if (v === null || typeof v !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};
/** Whether `o` has exactly the keys `required`, plus any of `optional` (present and not undefined). */
function exactKeys(
  o: Record<string, unknown>,
  required: readonly string[],
  optional: readonly string[] = [],
): boolean {
  let n = 0;
  for (const k in o) {
    if (!Object.hasOwn(o, k)) return false;
    if (required.includes(k) || (optional.includes(k) && o[k] !== undefined)) n++;
    else return false;
  }
  return n >= required.length && required.every((k) => Object.hasOwn(o, k));
}
const isText = (v: unknown): v is string => typeof v === 'string';
const isName = (v: unknown): boolean => typeof v === 'string' && v.length > 0;
const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isWord = (v: unknown): boolean => typeof v === 'string' && WORD_RE.test(v);
const isTexts = (v: unknown): boolean => Array.isArray(v) && v.every(isText);
function isRecipeArg(v: unknown): boolean {
  if (typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isSafeInteger(v);
  if (Array.isArray(v)) return v.every(isText);
  return isObject(v) && Object.values(v).every(isText);
}
function wellFormedDetails(d: unknown): boolean {
  if (!isObject(d)) return false;
  const { recipe, seed } = d as Record<string, Record<string, unknown>>;
  return (
    exactKeys(
      d,
      [
        'label',
        'atomVersion',
        'recipe',
        'seed',
        'shadowed',
        'sources',
        'dependencies',
        'sourceDateEpoch',
        'warnings',
      ],
      ['readSet'],
    ) &&
    isName(d.label) &&
    isName(d.atomVersion) &&
    isObject(recipe) &&
    exactKeys(recipe, ['name', 'identity', 'args']) &&
    isName(recipe.name) &&
    isDigest(recipe.identity) &&
    isObject(recipe.args) &&
    Object.values(recipe.args).every(isRecipeArg) &&
    isObject(seed) &&
    exactKeys(seed, ['mode', 'root']) &&
    isWord(seed.mode) &&
    isDigest(seed.root) &&
    Array.isArray(d.shadowed) &&
    d.shadowed.every(
      (x: unknown) =>
        isObject(x) &&
        exactKeys(x, ['path', 'winner', 'shadowed']) &&
        isText(x.path) &&
        isText(x.winner) &&
        isTexts(x.shadowed),
    ) &&
    Array.isArray(d.sources) &&
    d.sources.every(isDigest) &&
    Array.isArray(d.dependencies) &&
    d.dependencies.every(
      (x: unknown) => isObject(x) && exactKeys(x, ['name', 'tree']) && isName(x.name) && isDigest(x.tree),
    ) &&
    isCount(d.sourceDateEpoch) &&
    isTexts(d.warnings) &&
    (d.readSet === undefined || isDigest(d.readSet))
  );
}
/**
 * Whether `v` is a build record exactly as the schema accepts it, checked by hand: the fast path
 * of {@link validateBuildRecord} (a no-op build validates one record per action). Anything it does
 * not accept goes to the zod schema, which words the error (or accepts it: this check may only be
 * stricter than the schema, never looser).
 */
function wellFormedRecord(v: unknown): v is BuildRecord {
  return (
    isObject(v) &&
    exactKeys(v, [
      'format',
      'version',
      'action',
      'output',
      'world',
      'log',
      'durationMs',
      'seedMode',
      'details',
    ]) &&
    v.format === BUILD_RECORD_FORMAT &&
    v.version === BUILD_RECORD_VERSION &&
    (v.action === null || isDigest(v.action)) &&
    isDigest(v.output) &&
    isDigest(v.world) &&
    isDigest(v.log) &&
    isCount(v.durationMs) &&
    isWord(v.seedMode) &&
    (v.details === null || wellFormedDetails(v.details))
  );
}

/**
 * Validates a value as a build record.
 * @param what names the subject in errors
 * @throws DigestError E2 for a digest field that is not a digest; EncodingError E3 naming the
 *   field for anything else: a duration or epoch that is not a whole non-negative number, a seed
 *   mode that is not a lowercase word, a missing or unknown field, an unknown format or version
 * @see specs/action.md §4
 */
export function validateBuildRecord(v: unknown, what = 'build record'): BuildRecord {
  if (wellFormedRecord(v)) return v;
  const r = recordSchema().safeParse(v);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  const at = i.path.join('.');
  const data = { what, field: at };
  if (i.code === 'unrecognized_keys') {
    const where = at ? `${what}: ${at}` : what;
    throw new EncodingError(`${where} has unknown field ${i.keys[0]}`, {
      data: { ...data, field: i.keys[0] },
    });
  }
  const value = at.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], v);
  if (i.code === 'custom' && (i.params as { digest?: boolean } | undefined)?.digest)
    throw new DigestError(`${what}: ${at}: ${JSON.stringify(value)} is not a digest`, { data });
  const said = value === undefined ? 'missing' : `${JSON.stringify(value)} ${i.message}`;
  throw new EncodingError(`${what}: ${at}: ${said}`, { data });
}

/**
 * Makes a validated build record.
 * @throws EncodingError E3 naming the field (see {@link validateBuildRecord})
 * @see specs/action.md §4
 */
export function makeBuildRecord(f: BuildRecordFields): BuildRecord {
  return validateBuildRecord({
    ...f,
    format: BUILD_RECORD_FORMAT,
    version: BUILD_RECORD_VERSION,
    details: f.details ?? null,
  });
}

/** Canonical bytes of a build record (as stored in a blob). @throws EncodingError E3 */
export function encodeBuildRecord(r: BuildRecord): Uint8Array {
  return encodeCanonical(r);
}

/**
 * Parses and validates a build record's bytes (canonical JSON).
 * @throws EncodingError E3 for non-canonical bytes or an invalid record
 * @see specs/action.md §4
 */
export function parseBuildRecord(bytes: Uint8Array, what = 'build record'): BuildRecord {
  return validateBuildRecord(parseCanonical(bytes, what), what);
}

/** The digest of a build record (what signers sign). @see specs/action.md §4 */
export function buildRecordDigest(r: BuildRecord): Digest {
  return digestCanonical(r);
}

/**
 * The action an entry is filed under (its record's `action`).
 * @throws EncodingError E3 when the record answers no action (a build outside the scheduler)
 */
export function entryAction(entry: CacheEntry): Digest {
  if (entry.record.action === null)
    throw new EncodingError('action-cache entry: the record answers no action (action is null)');
  return entry.record.action;
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
 * Whether `bytes` are an action-cache entry whose build record is of an older, superseded version
 * (version 1, before the executor's details became part of the record). Such an entry is read as
 * a cache miss, not an error: the action runs again and its new entry replaces the old one, so a
 * store filled by an older Eos keeps working (specs/action.md §5.3). Anything else, including
 * damaged bytes, answers false and is left to {@link parseCacheEntry} to reject.
 *
 * @param bytes the entry file's bytes
 * @returns the superseded record version, or undefined
 * @see specs/action.md §5.3
 */
export function supersededEntryVersion(bytes: Uint8Array): number | undefined {
  let v: ReturnType<typeof parseCanonical>;
  try {
    v = parseCanonical(bytes, 'action-cache entry');
  } catch {
    return undefined;
  }
  return supersededVersionOf(v);
}

/** {@link supersededEntryVersion} of an entry already parsed from canonical JSON. */
function supersededVersionOf(v: ReturnType<typeof parseCanonical>): number | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const e = v as Record<string, unknown>;
  if (e.format !== CACHE_ENTRY_FORMAT || e.version !== CACHE_ENTRY_VERSION) return undefined;
  const r = e.record as Record<string, unknown> | null;
  if (r === null || typeof r !== 'object' || r.format !== BUILD_RECORD_FORMAT) return undefined;
  const rv = r.version;
  return typeof rv === 'number' && Number.isInteger(rv) && rv >= 1 && rv < BUILD_RECORD_VERSION
    ? rv
    : undefined;
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
  return cacheEntryOf(parseCanonical(bytes, what), what, expectAction);
}

/**
 * Reads an action-cache entry's bytes as a cache lookup does, parsing them once: undefined for an
 * entry of a superseded record version (a miss, {@link supersededEntryVersion}), else the entry
 * as {@link parseCacheEntry} returns it.
 * @throws EncodingError E3, CorruptObjectError E5 as {@link parseCacheEntry}
 * @see specs/action.md §5, §5.3
 */
export function readCacheEntry(
  bytes: Uint8Array,
  what: string,
  expectAction?: Digest,
): CacheEntry | undefined {
  const v = parseCanonical(bytes, what);
  if (supersededVersionOf(v) !== undefined) return undefined;
  return cacheEntryOf(v, what, expectAction);
}

function cacheEntryOf(v: ReturnType<typeof parseCanonical>, what: string, expectAction?: Digest): CacheEntry {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new EncodingError(`${what}: not an object`, { data: { what } });
  if (field(v, 'format', what) !== CACHE_ENTRY_FORMAT || field(v, 'version', what) !== CACHE_ENTRY_VERSION)
    throw new EncodingError(`${what}: not an ${CACHE_ENTRY_FORMAT} version ${CACHE_ENTRY_VERSION}`, {
      data: { what },
    });
  const record = validateBuildRecord(field(v, 'record', what), `${what}: record`);
  if (record.action === null)
    throw new EncodingError(`${what}: record answers no action (action is null)`, { data: { what } });
  if (expectAction !== undefined && record.action !== expectAction)
    throw new CorruptObjectError(`${what}: filed under ${expectAction} but records ${record.action}`, {
      data: { what, expected: expectAction, actual: record.action },
    });
  const sigs = field(v, 'signatures', what);
  if (!Array.isArray(sigs)) throw new EncodingError(`${what}: signatures is not a list`, { data: { what } });
  // The record's digest only when there is a signature to check it against.
  const rd = sigs.length ? buildRecordDigest(record) : undefined;
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
    version: CACHE_ENTRY_VERSION,
    record,
    signatures: sigs as RecordSignature[],
  };
}
