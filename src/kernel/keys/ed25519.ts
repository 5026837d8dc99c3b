/**
 * Ed25519 keys, pure: a key pair from 32 given random bytes (the seed), the key id, and raw
 * signing and verification of message bytes. Randomness is supplied by the caller (the I/O layer);
 * nothing here reads a clock, the environment or a file.
 *
 * Uses `@noble/ed25519` with node's SHA-512 for its synchronous API. Signatures are RFC 8032
 * Ed25519 (pure, no context, no prehash), byte-identical to node's built-in `crypto.sign(null, …)`.
 * Verification is RFC 8032 strict (`zip215: false`): non-canonical encodings are rejected.
 *
 * @see specs/signatures.md §1 (keys and key ids)
 */
import { createHash } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { digestBytes, type Digest } from '../digest.ts';
import { KeyError } from '../errors.ts';

ed.hashes.sha512 = (message: Uint8Array): Uint8Array<ArrayBuffer> =>
  new Uint8Array(createHash('sha512').update(message).digest());

/** Length of an Ed25519 seed (the secret key as stored), in bytes. */
export const SEED_BYTES = 32;
/** Length of an Ed25519 public key, in bytes. */
export const PUBLIC_KEY_BYTES = 32;
/** Length of an Ed25519 signature, in bytes. */
export const SIGNATURE_BYTES = 64;

/**
 * A key id: the digest (`blake3:<64 hex>`) of the raw 32-byte Ed25519 public key.
 * @see specs/signatures.md §1.2
 */
export type KeyId = Digest;

/** An Ed25519 key pair. `seed` is the secret (RFC 8032 private key); keep it out of logs. */
export interface KeyPair {
  /** The 32-byte secret seed. */
  seed: Uint8Array;
  /** The 32-byte public key (RFC 8032 encoding of the point A). */
  publicKey: Uint8Array;
  /** `digestBytes(publicKey)`. */
  id: KeyId;
}

/**
 * Derives the key pair of a 32-byte seed (RFC 8032 §5.1.5).
 * @param seed exactly 32 bytes, normally from a CSPRNG supplied by the caller
 * @throws KeyError E9 when the seed is not 32 bytes
 */
export function keyPairFromSeed(seed: Uint8Array): KeyPair {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES)
    throw new KeyError(`ed25519 seed: expected ${SEED_BYTES} bytes, got ${seed?.length ?? typeof seed}`);
  const s = Uint8Array.from(seed);
  const publicKey = ed.getPublicKey(s);
  return { seed: s, publicKey, id: keyIdOf(publicKey) };
}

/**
 * The key id of a raw public key: `digestBytes(publicKey)`.
 * @throws KeyError E9 when the key is not 32 bytes
 * @see specs/signatures.md §1.2
 */
export function keyIdOf(publicKey: Uint8Array): KeyId {
  if (publicKey.length !== PUBLIC_KEY_BYTES)
    throw new KeyError(`ed25519 public key: expected ${PUBLIC_KEY_BYTES} bytes, got ${publicKey.length}`);
  return digestBytes(publicKey);
}

/**
 * Checks that 32 bytes are a usable Ed25519 public key: a canonical encoding of a curve point
 * that is not of small order (a small-order key would let anyone forge signatures that verify).
 * @param what names the key in the error (file, key name)
 * @throws KeyError E9 otherwise
 */
export function checkPublicKey(publicKey: Uint8Array, what: string): void {
  if (publicKey.length !== PUBLIC_KEY_BYTES)
    throw new KeyError(`${what}: public key must be ${PUBLIC_KEY_BYTES} bytes, got ${publicKey.length}`, {
      data: { what },
    });
  let point: ed.Point;
  try {
    point = ed.Point.fromBytes(publicKey, false);
  } catch {
    throw new KeyError(`${what}: public key is not a valid ed25519 point`, { data: { what } });
  }
  if (point.isSmallOrder())
    throw new KeyError(`${what}: public key is a small-order point, which is not allowed`, {
      data: { what },
    });
}

/** Signs message bytes with a seed: the 64-byte RFC 8032 Ed25519 signature. */
export function signMessage(message: Uint8Array, seed: Uint8Array): Uint8Array {
  return ed.sign(message, seed);
}

/**
 * Verifies a 64-byte Ed25519 signature over message bytes (RFC 8032 strict). Never throws:
 * malformed signatures or keys give `false`.
 */
export function verifyMessage(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES || publicKey.length !== PUBLIC_KEY_BYTES) return false;
  try {
    return ed.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
