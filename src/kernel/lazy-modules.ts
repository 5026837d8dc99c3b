/**
 * Libraries loaded on first use instead of at import: zod is about a hundred ES modules (some
 * 100 ms of CPU, more wall time on a loaded machine) and smol-toml ten, while the kernel and the
 * scheduler need them only to parse a TOML document or a trust policy, or to word the error of a
 * malformed record, not on the hot path of a no-op build. Each package's
 * ES module build is loaded through `require` (Node ≥ 20.19 loads ES modules synchronously that
 * way), so every caller shares the one instance that a static `import` elsewhere gets; a bare
 * `require(NAME)` would pick the package's CommonJS build, a second copy.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { z as Zod } from 'zod';
import type * as SmolToml from 'smol-toml';

const require = createRequire(import.meta.url);

/** The ES build of `pkg`, given its path relative to the CommonJS entry's directory. */
function esmOf<T>(pkg: string, file: string): T {
  return require(join(dirname(require.resolve(pkg)), file)) as T;
}

let zod: typeof Zod | undefined;
let smolToml: typeof SmolToml | undefined;

/** zod's `z` namespace, loaded on the first call. */
export function lazyZod(): typeof Zod {
  return (zod ??= esmOf<{ z: typeof Zod }>('zod', 'index.js').z);
}

/** smol-toml (`parse`, `stringify`, `TomlError`), loaded on the first call. */
export function lazySmolToml(): typeof SmolToml {
  return (smolToml ??= esmOf<typeof SmolToml>('smol-toml', 'index.js'));
}

/**
 * A module's zod schemas made on the first call instead of at import: `make` receives zod's `z`
 * and returns the schemas; every call returns that one object. A module that only exports a
 * parser thus costs nothing to import (a no-op `eos build` never loads zod; specs/cli.md §1.7).
 * Types stay derivable: `z.infer<ReturnType<typeof schemas>['lock']>` with `import type { z }`.
 * @param make builds the schemas from zod's `z`; called at most once
 */
export function lazySchemas<T>(make: (z: typeof Zod) => T): () => T {
  let made: { v: T } | undefined;
  return () => (made ??= { v: make(lazyZod()) }).v;
}
