/**
 * Ed25519 keys, pure: a key pair from 32 given random bytes (the seed), the key id, and raw
 * signing and verification of message bytes. Randomness is supplied by the caller (the I/O layer);
 * nothing here reads a clock, the environment or a file.
 *
 * Key derivation and signing use node's built-in Ed25519 (OpenSSL): RFC 8032 Ed25519 (pure, no
 * context, no prehash) is deterministic, so the bytes are those `@noble/ed25519` gives (the vector
 * tests check both), at a fraction of the cost: noble's pure-JS base-point tables cost ~300 ms of
 * CPU on a process's first signature, which every short-lived `eos` command would pay.
 * Verification and point checks use `@noble/ed25519` with node's SHA-512: RFC 8032 strict
 * (`zip215: false`), non-canonical encodings rejected (specs/signatures.md §1.1 says why).
 *
 * @see specs/signatures.md §1 (keys and key ids)
 */
import { createHash, createPrivateKey, createPublicKey, sign as nodeSign, type KeyObject } from 'node:crypto';
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
  const spki = createPublicKey(privateKeyObject(s)).export({ format: 'der', type: 'spki' });
  const publicKey = new Uint8Array(spki.subarray(spki.length - PUBLIC_KEY_BYTES));
  return { seed: s, publicKey, id: keyIdOf(publicKey) };
}

/** DER prefix of a PKCS #8 Ed25519 private key (RFC 8410 §7) before its 32-byte seed. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The seed as node's private key object (PKCS #8 DER, RFC 8410). */
function privateKeyObject(seed: Uint8Array): KeyObject {
  return createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
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

/**
 * Signs message bytes with a seed: the 64-byte RFC 8032 Ed25519 signature (node's Ed25519).
 * @throws KeyError E9 when the seed is not 32 bytes
 */
export function signMessage(message: Uint8Array, seed: Uint8Array): Uint8Array {
  if (seed.length !== SEED_BYTES)
    throw new KeyError(`ed25519 seed: expected ${SEED_BYTES} bytes, got ${seed.length}`);
  return new Uint8Array(nodeSign(null, message, privateKeyObject(seed)));
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
