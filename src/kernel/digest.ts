/**
 * Digests: the one place where `blake3:<64 lowercase hex>` is parsed, printed and computed.
 *
 * @see specs/store.md §1 (digests)
 */
import { blake3, createBlake3 } from './blake3.ts';
import { DigestError } from './errors.ts';

/** A content digest, always `blake3:` followed by 64 lowercase hex digits. Only made by the functions here. */
export type Digest = string & { readonly __brand: 'Digest' };

/** The algorithm prefix of every digest. */
export const DIGEST_PREFIX = 'blake3:';
const DIGEST_RE = /^blake3:[0-9a-f]{64}$/;

/** True when `s` is a well-formed digest string. */
export function isDigest(s: unknown): s is Digest {
  return typeof s === 'string' && DIGEST_RE.test(s);
}

/**
 * Parses a digest string.
 * @param s the text, e.g. `blake3:af13…` (exactly 71 characters, lowercase hex)
 * @param what names the subject in the error message (a field, file or argument)
 * @throws DigestError E2 for anything else (uppercase hex, other algorithm, wrong length)
 */
export function parseDigest(s: unknown, what = 'digest'): Digest {
  if (isDigest(s)) return s;
  const shown = typeof s === 'string' ? JSON.stringify(s.length > 80 ? s.slice(0, 80) + '…' : s) : typeof s;
  throw new DigestError(`${what}: ${shown} is not a digest (expected blake3:<64 lowercase hex>)`, {
    data: { what, value: typeof s === 'string' ? s : null },
  });
}

/** The 64 hex digits of a digest, without the prefix. */
export function digestHex(d: Digest): string {
  return d.slice(DIGEST_PREFIX.length);
}

/** The 32 raw bytes of a digest. */
export function digestRaw(d: Digest): Uint8Array {
  return Uint8Array.from(Buffer.from(digestHex(d), 'hex'));
}

/** Makes a digest from 64 hex digits or 32 raw bytes. @throws DigestError E2 */
export function digestFrom(hexOrRaw: string | Uint8Array): Digest {
  const hex = typeof hexOrRaw === 'string' ? hexOrRaw : Buffer.from(hexOrRaw).toString('hex');
  return parseDigest(DIGEST_PREFIX + hex);
}

/** BLAKE3 of bytes (or of a string's UTF-8 bytes), as a digest. */
export function digestBytes(bytes: Uint8Array | string): Digest {
  return (DIGEST_PREFIX + blake3(bytes).toString('hex')) as Digest;
}

/** An incremental BLAKE3 hasher: `update` chunks, then `digest` once. */
export interface Digester {
  update(chunk: Uint8Array): Digester;
  digest(): Digest;
}

/** Creates an incremental hasher for streaming large inputs. */
export function createDigester(): Digester {
  const h = createBlake3();
  const d: Digester = {
    update(chunk) {
      h.update(chunk);
      return d;
    },
    digest() {
      return (DIGEST_PREFIX + h.digest().toString('hex')) as Digest;
    },
  };
  return d;
}
