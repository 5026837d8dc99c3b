/**
 * BLAKE3, straight from the native addon of the `blake3` package (`@c4312/blake3-native`, pinned
 * by package.json's overrides). The package's own entry point wraps every hasher in a Node stream
 * and loads its WebAssembly helpers: about 20 ms of every `eos` start, for nothing Eos uses. The
 * addon is the same code the package calls; when it cannot be found, the package is used instead.
 * Strings are hashed as their UTF-8 bytes.
 *
 * @see specs/store.md §1 (digests), specs/cli.md §1.4 (start-up)
 */
import { createRequire } from 'node:module';

/** An incremental hasher of the addon's shape. */
export interface Blake3Hasher {
  update(chunk: Uint8Array): void;
  /** The 32-byte hash. */
  digest(): Buffer;
}

const require = createRequire(import.meta.url);

function load(): () => Blake3Hasher {
  try {
    const native = require('@c4312/blake3-native/build/Release/blake3.node') as {
      createHash: () => Blake3Hasher;
    };
    return native.createHash;
  } catch {
    const pkg = require('blake3') as {
      createHash: () => { update(c: Uint8Array): unknown; digest(): Buffer };
    };
    return () => {
      const h = pkg.createHash();
      return { update: (c) => void h.update(c), digest: () => h.digest() };
    };
  }
}

/** A new incremental BLAKE3 hasher. */
export const createBlake3: () => Blake3Hasher = load();

/** BLAKE3 of bytes or of a string's UTF-8 bytes (32 bytes). */
export function blake3(input: Uint8Array | string): Buffer {
  const h = createBlake3();
  h.update(typeof input === 'string' ? Buffer.from(input, 'utf8') : input);
  return h.digest();
}
