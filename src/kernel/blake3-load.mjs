// Loads BLAKE3 once per process and per worker thread (plain JavaScript so the store's ingest
// worker, which runs without a TypeScript loader, shares it with src/kernel/digest.ts): the native
// binding of the `blake3` package (`@c4312/blake3-native`, compiled at install time) when it loads,
// else its WebAssembly build (`blake3-wasm`), whose `load()` is awaited before any hashing. Both are
// resolved from the `blake3` package's own directory, as its entry point would, so a binding that
// failed to compile (an optional dependency: `npm ci` succeeds without it) falls back here instead
// of failing at the first hash ("Make sure to await blake3.load()"). Never throws: when neither
// loads, `impl` is null and `errors` says why (digest.ts turns that into E25).
import { createRequire } from 'node:module';

const firstLine = (e) => String(e?.message ?? e).split('\n')[0];

/**
 * The package's API (createHash with update/digest(encoding), hash) over the bare addon, whose
 * hashers take bytes only and return the 32-byte digest.
 */
function addonImpl(addon) {
  const wrap = (h) => ({
    update(chunk) {
      h.update(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
      return this;
    },
    digest(encoding) {
      const r = h.digest();
      return encoding ? r.toString(encoding) : r;
    },
  });
  const createHash = () => wrap(addon.createHash());
  return {
    createHash,
    hash: (input) => createHash().update(input).digest(),
    load: () => Promise.resolve(),
  };
}

/** @returns {Promise<{impl: object | null, name: 'native' | 'wasm' | null, errors: string[]}>} */
export async function loadBlake3() {
  let fromBlake3;
  try {
    fromBlake3 = createRequire(createRequire(import.meta.url).resolve('blake3'));
  } catch (e) {
    return { impl: null, name: null, errors: [`the blake3 package: ${firstLine(e)}`] };
  }
  const errors = [];
  // Fast path: the compiled addon itself. The package entry around it loads Node streams and
  // WebAssembly helpers (about 20 ms of every eos start) for nothing Eos uses (specs/cli.md §1.4).
  try {
    return {
      impl: addonImpl(fromBlake3('@c4312/blake3-native/build/Release/blake3.node')),
      name: 'native',
      errors,
    };
  } catch {
    /* not where this version of the package puts it: take the package's entry point */
  }
  try {
    return { impl: fromBlake3('@c4312/blake3-native'), name: 'native', errors };
  } catch (e) {
    errors.push(`the native binding: ${firstLine(e)}`);
  }
  try {
    const impl = fromBlake3('blake3-wasm');
    await impl.load();
    return { impl, name: 'wasm', errors };
  } catch (e) {
    errors.push(`the WebAssembly build: ${firstLine(e)}`);
  }
  return { impl: null, name: null, errors };
}
