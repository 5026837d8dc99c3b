/**
 * Read sets (pure): what an observed build looked up, listed, followed and read in its world, per
 * path, with the world entry that provided each file or symlink. Its canonical encoding, digest
 * and validating parser.
 *
 * @see specs/observe.md §3
 */
import {
  compareNames,
  digestCanonical,
  encodeCanonical,
  isDigest,
  lazySchemas,
  NotObservedError,
  parseCanonical,
  type Digest,
} from '../../src/kernel/index.ts';

/** Format name of a read set. @see specs/observe.md §3 */
export const READ_SET_FORMAT = 'eos.read-set';
/** Version of the read set. */
export const READ_SET_VERSION = 1;

/** The operations recorded per path, in their canonical order. */
export const READ_OPS = ['lookup', 'readdir', 'readlink', 'open', 'read'] as const;
/** One recorded operation. */
export type ReadOp = (typeof READ_OPS)[number];

/** What a path was in the world: a node's kind, or `missing` (a lookup that failed: a probe). */
export type ReadKind = 'file' | 'directory' | 'symlink' | 'missing';

/** One path of a read set. @see specs/observe.md §3.2 */
export interface ReadPath {
  /** Absolute path in the world (`/usr/include/zlib.h`). */
  path: string;
  kind: ReadKind;
  /** The world entry whose node is visible there (a file or symlink); null for a directory or a missing path. */
  entry: string | null;
  /** The operations seen, in {@link READ_OPS} order, at least one. */
  ops: ReadOp[];
}

/** A read set. @see specs/observe.md §3.1 */
export interface ReadSet {
  format: typeof READ_SET_FORMAT;
  version: typeof READ_SET_VERSION;
  /** The world's composition root. */
  world: Digest;
  /** Sorted by path (UTF-8 bytes), unique. */
  paths: ReadPath[];
}

/** The read set's zod schema, made on first use (src/kernel/lazy-modules.ts). */
const readSetSchema = lazySchemas((z) => {
  return z.strictObject({
    format: z.literal(READ_SET_FORMAT),
    version: z.literal(READ_SET_VERSION),
    world: z.custom<Digest>(isDigest, { message: 'is not a digest' }),
    paths: z.array(
      z.strictObject({
        path: z.string().regex(/^\/(?:[^/\0]+(?:\/[^/\0]+)*)?$/, 'is not an absolute normal path'),
        kind: z.enum(['file', 'directory', 'symlink', 'missing']),
        entry: z.string().min(1).nullable(),
        ops: z.array(z.enum(READ_OPS)).min(1),
      }),
    ),
  });
});

/**
 * Checks a read set's shape and order.
 * @throws NotObservedError E51 naming the field (unknown field, bad kind, unsorted or repeated
 *   path, ops out of order, an entry on a directory or missing path, a file without one)
 */
export function validateReadSet(value: unknown, what = 'read set'): ReadSet {
  const r = readSetSchema().safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new NotObservedError(`${what}: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  const rs = r.data as ReadSet;
  rs.paths.forEach((p, i) => {
    const prev = rs.paths[i - 1];
    if (prev && compareNames(prev.path, p.path) >= 0)
      throw new NotObservedError(`${what}: paths.${i}: ${p.path} is not after ${prev.path}`);
    const order = p.ops.map((o) => READ_OPS.indexOf(o));
    if (order.some((o, j) => j > 0 && o <= order[j - 1]!))
      throw new NotObservedError(`${what}: paths.${i}.ops: not unique in the order ${READ_OPS.join(', ')}`);
    const needsEntry = p.kind === 'file' || p.kind === 'symlink';
    if (needsEntry !== (p.entry !== null))
      throw new NotObservedError(
        `${what}: paths.${i}.entry: ${needsEntry ? 'a file or symlink names its entry' : `a ${p.kind} path has no entry`}`,
      );
    if (p.kind === 'missing' && (p.ops.length !== 1 || p.ops[0] !== 'lookup'))
      throw new NotObservedError(`${what}: paths.${i}.ops: a missing path has only lookup`);
  });
  return rs;
}

/**
 * Makes a read set from paths in any order (sorted here; ops put in canonical order).
 * @throws NotObservedError E51 as {@link validateReadSet}
 */
export function makeReadSet(world: Digest, paths: ReadPath[]): ReadSet {
  const sorted = paths
    .map((p) => ({ ...p, ops: READ_OPS.filter((o) => p.ops.includes(o)) }))
    .sort((a, b) => compareNames(a.path, b.path));
  return validateReadSet({ format: READ_SET_FORMAT, version: READ_SET_VERSION, world, paths: sorted });
}

/** The canonical bytes of a read set (RFC 8785). */
export function encodeReadSet(rs: ReadSet): Uint8Array {
  return encodeCanonical(rs);
}

/** The read set's digest: blake3 of its canonical bytes. */
export function readSetDigest(rs: ReadSet): Digest {
  return digestCanonical(rs);
}

/**
 * Parses a read set's bytes.
 * @throws EncodingError E3 for bytes that are not canonical JSON; NotObservedError E51 as {@link validateReadSet}
 */
export function parseReadSet(bytes: Uint8Array, what = 'read set'): ReadSet {
  return validateReadSet(parseCanonical(bytes, what), what);
}
