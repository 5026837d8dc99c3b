/**
 * Digests: the one place where `blake3:<64 lowercase hex>` is parsed, printed and computed.
 *
 * @see specs/store.md §1 (digests)
 */
import { loadBlake3 } from './blake3-load.mjs';
import { BLAKE3_CHUNK_LEN, blake3ChunkHex } from './blake3-chunk.ts';
import { DigestError, HashBackendError } from './errors.ts';

/** Which BLAKE3 implementation this process hashes with, and why it is not the native one. */
export interface HashBackend {
  /** `native`: the compiled Node binding; `wasm`: the WebAssembly build (slower, same digests). */
  name: 'native' | 'wasm';
  /** For `wasm`: why the native binding could not be loaded (its loader's message, first line). */
  reason?: string;
}

// Loaded once, before any hashing: the native binding, else the WebAssembly build (awaited).
// Neither is the named error E25 (the CLI imports this module inside its error handler).
const loaded = await loadBlake3();
if (!loaded.impl)
  throw new HashBackendError(`no BLAKE3 implementation could be loaded: ${loaded.errors.join('; ')}`, {
    hint:
      'reinstall the dependencies with `npm ci`, or rebuild the binding with ' +
      '`npm rebuild @c4312/blake3-native blake3` (bash scripts/setup.sh does this)',
    data: { errors: loaded.errors },
  });
const { hash, createHash } = loaded.impl;
const backend: HashBackend =
  loaded.name === 'native'
    ? { name: 'native' }
    : { name: 'wasm', reason: loaded.errors[0]!.replace(/^the native binding: /, '') };

/** The BLAKE3 implementation in use (the CLI warns once on stderr when it is the slower `wasm`). */
export function hashBackend(): HashBackend {
  return { ...backend };
}

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

/**
 * How many one-chunk inputs are hashed by the binding before the JavaScript hasher takes them:
 * its first few hundred calls run in V8's interpreter (~100 µs each, ~25 ms in all) before it is
 * optimized (~1–4 µs against the binding's ~7), which pays back only in a long run (a cold build
 * hashes ~200 small objects per action); a short command (a no-op build: a few thousand) never
 * switches. specs/store.md §1.3
 */
export const JS_HASH_AFTER = 20_000;
let smallInputs = 0;

/**
 * BLAKE3 of bytes (or of a string's UTF-8 bytes), as a digest. Inputs of at most one chunk
 * (1,024 bytes: tree objects, records, keys) are hashed in JavaScript (src/kernel/blake3-chunk.ts)
 * once this process has hashed {@link JS_HASH_AFTER} of them; everything else by the binding.
 */
export function digestBytes(bytes: Uint8Array | string): Digest {
  if (bytes.length <= BLAKE3_CHUNK_LEN && ++smallInputs > JS_HASH_AFTER) {
    const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    if (b.length <= BLAKE3_CHUNK_LEN) return (DIGEST_PREFIX + blake3ChunkHex(b)) as Digest;
  }
  return (DIGEST_PREFIX + Buffer.from(hash(bytes)).toString('hex')) as Digest;
}

/** An incremental BLAKE3 hasher: `update` chunks, then `digest` once. */
export interface Digester {
  update(chunk: Uint8Array): Digester;
  digest(): Digest;
}

/** Creates an incremental hasher for streaming large inputs. */
export function createDigester(): Digester {
  const h = createHash();
  const d: Digester = {
    update(chunk) {
      h.update(chunk);
      return d;
    },
    digest() {
      return (DIGEST_PREFIX + h.digest('hex')) as Digest;
    },
  };
  return d;
}
