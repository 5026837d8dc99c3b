/**
 * Detached signatures, pure: the signed message bytes, signing a digest, and the canonical
 * signature object `{version, purpose, signed, key, signature}` with its encoder and parser.
 *
 * @see specs/signatures.md §2 (signed bytes), §3 (signature object)
 */
import { encodeCanonical, parseCanonical } from '../canonical.ts';
import { isDigest, type Digest } from '../digest.ts';
import { EncodingError } from '../errors.ts';
import { keyPairFromSeed, signMessage, type KeyId } from './ed25519.ts';
import { isPurpose, PURPOSES, type Purpose } from './purpose.ts';

/** The format version of signature objects this code writes and reads. */
export const SIGNATURE_VERSION = 1;

/** The domain-separation prefix of every signed message. @see specs/signatures.md §2 */
export const SIGNATURE_DOMAIN = 'eos-signature-v1';

/**
 * A detached signature over one digest, for one purpose, by one key. Several signatures may
 * sign the same digest.
 *
 * shape: `version` 1; `purpose` one of {@link PURPOSES}; `signed` the digest signed; `key` the
 * signer's key id; `signature` the 64-byte Ed25519 signature as 128 lowercase hex digits.
 * @see specs/signatures.md §3
 */
export interface Signature {
  version: 1;
  purpose: Purpose;
  signed: Digest;
  key: KeyId;
  signature: string;
}

/**
 * The exact bytes an Eos signature signs: the UTF-8 bytes of
 * `eos-signature-v1\n<purpose>\n<digest>\n`.
 * @see specs/signatures.md §2
 */
export function signatureMessage(signed: Digest, purpose: Purpose): Uint8Array {
  return new TextEncoder().encode(`${SIGNATURE_DOMAIN}\n${purpose}\n${signed}\n`);
}

/**
 * Signs a digest for a purpose with a seed.
 * @throws KeyError E9 when the seed is not 32 bytes
 */
export function signDigest(signed: Digest, purpose: Purpose, seed: Uint8Array): Signature {
  const kp = keyPairFromSeed(seed);
  const sig = signMessage(signatureMessage(signed, purpose), kp.seed);
  return { version: 1, purpose, signed, key: kp.id, signature: Buffer.from(sig).toString('hex') };
}

const SIG_HEX_RE = /^[0-9a-f]{128}$/;
const FIELDS = ['key', 'purpose', 'signature', 'signed', 'version'];

/**
 * Validates an untrusted value as a signature object.
 * @param what names the subject (file, field) in errors
 * @throws EncodingError E3 naming the first bad field: not an object, unknown or missing field,
 *   unknown version, unknown purpose, a digest or key id not `blake3:<64 hex>`, a signature
 *   not 128 lowercase hex digits
 */
export function validateSignature(value: unknown, what = 'signature'): Signature {
  const fail = (detail: string, field?: string): never => {
    throw new EncodingError(`${what}: ${detail}`, { data: { what, ...(field ? { field } : {}) } });
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return fail('a signature must be a JSON object');
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!FIELDS.includes(k)) fail(`unknown field "${k}"`, k);
  for (const k of FIELDS) if (!(k in o)) fail(`missing field "${k}"`, k);
  if (o.version !== SIGNATURE_VERSION)
    fail(`version ${JSON.stringify(o.version)} is not supported (expected ${SIGNATURE_VERSION})`, 'version');
  if (!isPurpose(o.purpose))
    fail(`purpose ${JSON.stringify(o.purpose)} is not one of ${PURPOSES.join(', ')}`, 'purpose');
  if (!isDigest(o.signed)) fail(`signed: ${JSON.stringify(o.signed)} is not a digest`, 'signed');
  if (!isDigest(o.key)) fail(`key: ${JSON.stringify(o.key)} is not a key id (blake3:<64 hex>)`, 'key');
  if (typeof o.signature !== 'string' || !SIG_HEX_RE.test(o.signature))
    fail('signature: expected 128 lowercase hex digits (64 bytes)', 'signature');
  return {
    version: 1,
    purpose: o.purpose as Purpose,
    signed: o.signed as Digest,
    key: o.key as KeyId,
    signature: o.signature as string,
  };
}

/**
 * Encodes a signature object canonically (RFC 8785 JSON, UTF-8, no trailing newline).
 * @throws EncodingError E3 when it is not a valid signature object
 * @see specs/signatures.md §3
 */
export function encodeSignature(sig: Signature): Uint8Array {
  return encodeCanonical(validateSignature(sig));
}

/**
 * Parses a signature file's bytes: the canonical encoding, optionally followed by one `\n`.
 * @param what names the subject (file) in errors
 * @throws EncodingError E3 when the bytes are not a canonical, valid signature object
 * @see specs/signatures.md §3
 */
export function parseSignature(bytes: Uint8Array, what = 'signature'): Signature {
  const body = bytes.length > 0 && bytes[bytes.length - 1] === 0x0a ? bytes.subarray(0, -1) : bytes;
  return validateSignature(parseCanonical(body, what), what);
}
