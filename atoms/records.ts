/**
 * Claim and publish records: the signed statements of the atom protocol. Each is a JSON object in
 * canonical form (RFC 8785); its digest is BLAKE3 of those bytes and is what the owner key signs
 * (purpose `atoms`).
 *
 * Pure: build, encode, parse and validate.
 *
 * @see specs/atom.md §9
 */
import {
  AtomError,
  encodeCanonical,
  digestBytes,
  isDigest,
  parseCanonical,
  EncodingError,
  type Digest,
} from '../src/kernel/index.ts';
import { isLabel, isVersion } from './atom-manifest.ts';

/** The `type` of a claim record (names the format and its version). @see specs/atom.md §9.1 */
export const CLAIM_TYPE = 'eos.atom.claim/v1';
/** The `type` of a publish record. @see specs/atom.md §9.2 */
export const PUBLISH_TYPE = 'eos.atom.publish/v1';

/** A claim: `key` owns `label` in this repository. @see specs/atom.md §9.1 */
export interface ClaimRecord {
  type: typeof CLAIM_TYPE;
  label: string;
  /** The owner's key id (`blake3:` of the ed25519 public key). */
  key: Digest;
}

/** A publish record: `label@version` is the subtree `path` of `commit`, with this content. @see specs/atom.md §9.2 */
export interface PublishRecord {
  type: typeof PUBLISH_TYPE;
  label: string;
  version: string;
  source: {
    /** The git commit id (40 or 64 hex) the atom was published from. */
    commit: string;
    /** The atom's directory in that commit, `/`-separated, `.` for the root. */
    path: string;
  };
  /** The store tree digest of the subtree (specs/atom.md §9.4). */
  content: Digest;
  /** The digest of the subtree's `atom.toml` bytes. */
  manifest: Digest;
  /** The digest of the claim record this publish rests on. */
  claim: Digest;
}

const COMMIT_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** True when `p` is `.` or a relative `/`-separated path without empty, `.` or `..` segments. */
export function isAtomPath(p: unknown): p is string {
  if (typeof p !== 'string' || p.length === 0 || p.length > 1024) return false;
  if (p === '.') return true;
  return (
    !p.startsWith('/') && !p.includes('\0') && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..')
  );
}

function fields(o: Record<string, unknown>, want: string[], what: string): void {
  const have = Object.keys(o).sort();
  const w = [...want].sort();
  if (have.length !== w.length || have.some((k, i) => k !== w[i]))
    throw new AtomError(`${what}: fields ${have.join(', ')} (expected ${w.join(', ')})`, { data: { what } });
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new AtomError(`${what}: not a JSON object`, { data: { what } });
  return v as Record<string, unknown>;
}

/**
 * Validates a claim record value.
 * @throws AtomError E20 naming `what` and the bad field
 */
export function validateClaim(v: unknown, what = 'claim record'): ClaimRecord {
  const o = obj(v, what);
  if (o.type !== CLAIM_TYPE)
    throw new AtomError(`${what}: type ${JSON.stringify(o.type)} is not ${CLAIM_TYPE}`, { data: { what } });
  fields(o, ['type', 'label', 'key'], what);
  if (!isLabel(o.label)) throw new AtomError(`${what}: label ${JSON.stringify(o.label)} is not a label`);
  if (!isDigest(o.key)) throw new AtomError(`${what}: key ${JSON.stringify(o.key)} is not a key id`);
  return { type: CLAIM_TYPE, label: o.label, key: o.key };
}

/**
 * Validates a publish record value.
 * @throws AtomError E20 naming `what` and the bad field
 */
export function validatePublish(v: unknown, what = 'publish record'): PublishRecord {
  const o = obj(v, what);
  if (o.type !== PUBLISH_TYPE)
    throw new AtomError(`${what}: type ${JSON.stringify(o.type)} is not ${PUBLISH_TYPE}`, { data: { what } });
  fields(o, ['type', 'label', 'version', 'source', 'content', 'manifest', 'claim'], what);
  if (!isLabel(o.label)) throw new AtomError(`${what}: label ${JSON.stringify(o.label)} is not a label`);
  if (!isVersion(o.version))
    throw new AtomError(`${what}: version ${JSON.stringify(o.version)} is not a version`);
  const s = obj(o.source, `${what}: source`);
  fields(s, ['commit', 'path'], `${what}: source`);
  if (typeof s.commit !== 'string' || !COMMIT_RE.test(s.commit))
    throw new AtomError(`${what}: source.commit ${JSON.stringify(s.commit)} is not a commit id`);
  if (!isAtomPath(s.path))
    throw new AtomError(`${what}: source.path ${JSON.stringify(s.path)} is not a relative path`);
  for (const k of ['content', 'manifest', 'claim'] as const)
    if (!isDigest(o[k])) throw new AtomError(`${what}: ${k} ${JSON.stringify(o[k])} is not a digest`);
  return {
    type: PUBLISH_TYPE,
    label: o.label,
    version: o.version,
    source: { commit: s.commit, path: s.path },
    content: o.content as Digest,
    manifest: o.manifest as Digest,
    claim: o.claim as Digest,
  };
}

/** The canonical bytes of a record (what is stored in git as `record.json`). @throws EncodingError E3 */
export function encodeRecord(r: ClaimRecord | PublishRecord): Uint8Array {
  return encodeCanonical(r);
}

/** The digest of a record: BLAKE3 of its canonical bytes; this is what the owner signs. */
export function recordDigest(r: ClaimRecord | PublishRecord): Digest {
  return digestBytes(encodeRecord(r));
}

/**
 * Parses stored record bytes (canonical JSON only).
 * @throws AtomError E20 when the bytes are not canonical JSON or not a valid record of that kind
 */
export function parseClaim(bytes: Uint8Array, what = 'claim record'): ClaimRecord {
  return validateClaim(canonical(bytes, what), what);
}

/** Parses stored publish record bytes. @throws AtomError E20 @see parseClaim */
export function parsePublish(bytes: Uint8Array, what = 'publish record'): PublishRecord {
  return validatePublish(canonical(bytes, what), what);
}

function canonical(bytes: Uint8Array, what: string): unknown {
  try {
    return parseCanonical(bytes, what);
  } catch (e) {
    if (e instanceof EncodingError) throw new AtomError(e.detail, { data: { what } });
    throw e;
  }
}
