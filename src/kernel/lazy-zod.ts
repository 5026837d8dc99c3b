/**
 * zod, loaded on first use instead of at import: zod is about a hundred ES modules (some 100 ms of
 * CPU and more wall time on a loaded machine), and the kernel and the scheduler need it only to
 * parse a trust policy or to word the error of a malformed record, not on the hot path of a no-op
 * build (specs/scheduler.md §12). The ES module build is loaded through `require` (Node ≥ 20.19
 * loads ES modules synchronously that way), so every caller shares the one instance that
 * `import 'zod'` elsewhere gets.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { z as Zod } from 'zod';

let loaded: typeof Zod | undefined;

/** zod's `z` namespace, loaded on the first call. */
export function lazyZod(): typeof Zod {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  // `require('zod')` would pick the CommonJS build (a second copy); the ES build sits next to it.
  const esm = join(dirname(require.resolve('zod')), 'index.js');
  loaded = (require(esm) as { z: typeof Zod }).z;
  return loaded;
}
