/** The part of the `blake3` packages' API that Eos uses (the native and WebAssembly builds share it). */
export interface Blake3Impl {
  hash(input: Uint8Array | string): Uint8Array;
  createHash(): { update(chunk: Uint8Array): unknown; digest(encoding: 'hex'): string };
  load(): Promise<void>;
}

/**
 * Loads BLAKE3: the native binding, else the WebAssembly build (awaited); never throws.
 * `errors` holds one line per implementation that failed (`the native binding: …`).
 */
export function loadBlake3(): Promise<
  | { impl: Blake3Impl; name: 'native' | 'wasm'; errors: string[] }
  | { impl: null; name: null; errors: string[] }
>;
