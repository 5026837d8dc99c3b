// Whether dist/ (the compiled CLI) is current with the sources it was built from. The build
// (scripts/build-dist.mjs) writes dist/.eos-build.json: the time it started and every source file,
// asset and source directory it compiled. dist/ is current when that manifest exists and none of
// those paths is missing or has a modification or status-change time after the build (an edit
// changes the file's times, an added or removed file its directory's; the status-change time cannot
// be set back, so an edit that restores an old modification time is caught too).
// One stat per listed path (about 320), by string concatenation and without node:path: about 4 ms
// of CPU in a fresh process (specs/cli.md §1.2). No stat can be skipped: an in-place edit changes
// only the file's own times, so a single summary stat could not see it.
// The manifest also records the CLI's version (`cliVersion`), so that `eos --version` reads one file.
// CommonJS: `eos` starts without Node's ESM loader when it needs nothing else (specs/cli.md §1.2).
// See specs/cli.md §1 (the compiled CLI).
'use strict';
const { readFileSync, statSync } = require('node:fs');

/** The manifest's name inside dist/. */
const MANIFEST = '.eos-build.json';

/**
 * @param {string} root the repository root (holding dist/)
 * @returns {{ fresh: true, version: string | undefined } | { fresh: false, reason: string }}
 */
function distState(root) {
  let m;
  try {
    m = JSON.parse(readFileSync(`${root}/dist/${MANIFEST}`, 'utf8'));
  } catch {
    return { fresh: false, reason: 'dist/ is not built' };
  }
  const t = m.builtAtMs;
  if (m.version !== 1 || typeof t !== 'number' || !Array.isArray(m.paths))
    return { fresh: false, reason: `dist/${MANIFEST} is not a build manifest` };
  const base = `${root}/`;
  for (const p of m.paths) {
    const st = statSync(base + p, { throwIfNoEntry: false });
    if (!st) return { fresh: false, reason: `${p} is gone since dist/ was built` };
    if (st.mtimeMs > t || st.ctimeMs > t)
      return { fresh: false, reason: `${p} changed since dist/ was built` };
  }
  return { fresh: true, version: typeof m.cliVersion === 'string' ? m.cliVersion : undefined };
}

module.exports = { MANIFEST, distState };
