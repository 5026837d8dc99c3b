// Runs the compiled CLI, dist/bundle/main.cjs (one CommonJS file, scripts/build-dist.mjs), compiled
// from V8's code cache when there is a usable one, and leaves one behind when there was not.
// Compiling the ~1.3 MB bundle from source takes ~30 ms of every start here; from the cache, ~6
// (specs/cli.md §1.7). The cache is only ever a cache:
// - its file, `dist/bundle/main.cjs.<KEY>.v8cache`, is named by a hash of everything V8 checks and
//   of what it does not: Node's version and architecture, Node's flags (`process.execArgv`,
//   NODE_OPTIONS) and the bundle file's size, modification and status-change times and inode
//   (V8 compares the source's length, not its bytes, so the key must name the very file);
// - V8 rejects data made by another V8, with other flags or for a source of another length; a
//   missing, unreadable or rejected cache compiles the source (as Node would) and writes a new one
//   at exit (`createCachedData` then holds every function compiled during the run), to a temp file
//   renamed into place, never half-written; a read-only dist/ just goes without.
// BLAKE3 is loaded here first (its WebAssembly fallback is awaited, and CommonJS has no top-level
// await): the bundle's digest and store modules take it from globalThis (`__eosBlake3()`).
import { readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import vm from 'node:vm';
import { loadBlake3 } from '../dist/src/kernel/blake3-load.mjs';

/** FNV-1a (32-bit) of `s`, as 8 hex digits: a file-name key, not a security boundary. */
function fnv1a(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * The code cache file of the bundle at `file` with stats `st` for this Node and its flags.
 * @param {string} file
 * @param {import('node:fs').Stats} st
 */
export function codeCachePath(file, st) {
  const key = [
    process.version,
    process.arch,
    process.execArgv.join(' '),
    process.env.NODE_OPTIONS ?? '',
    st.size,
    st.mtimeMs,
    st.ctimeMs,
    st.ino,
  ].join('\0');
  return `${file}.${fnv1a(key)}.v8cache`;
}

/**
 * Runs `main(argv)` of the bundle under `root`/dist/bundle.
 * @param {string} root the repository root
 * @param {string[]} argv process.argv
 * @returns {Promise<number>} the exit status main returned
 */
export async function runBundle(root, argv) {
  globalThis[Symbol.for('eos.blake3')] = await loadBlake3();
  const file = `${root}/dist/bundle/main.cjs`;
  const cacheFile = codeCachePath(file, statSync(file));
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // none yet (or unreadable): compiled from source below, and one is written at exit
  }
  const script = new vm.Script(
    `(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`,
    // No dynamic-import callback: Node 20 loses it for a script compiled from cached data, so the
    // bundle may hold no run-time import() (scripts/build-dist.mjs fails the build on one).
    { filename: file, ...(cachedData ? { cachedData } : {}) },
  );
  if (process.env.EOS_DEBUG_CODE_CACHE === '1')
    process.stderr.write(
      `eos: code cache ${cacheFile}: ${!cachedData ? 'none' : script.cachedDataRejected ? 'rejected' : 'used'}\n`,
    );
  if (!cachedData || script.cachedDataRejected)
    process.once('exit', () => {
      const tmp = `${cacheFile}.tmp-${process.pid}`;
      try {
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile);
      } catch {
        try {
          unlinkSync(tmp);
        } catch {
          // nothing was written
        }
      }
    });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, `${root}/dist/bundle`);
  return module.exports.main(argv);
}
