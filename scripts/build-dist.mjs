#!/usr/bin/env node
// Compiles the CLI and its subsystems into dist/ (tsconfig.build.json: tsc with
// rewriteRelativeImportExtensions, incremental), copies the non-TypeScript files they read at run
// time (recipe scripts; plain .mjs modules such as the BLAKE3 loader), and writes dist/.eos-build.json, the manifest bin/dist-state.cjs checks:
// the time this build started and every source file, asset and directory it covered.
// Run by `npm ci`/`npm install` (prepare), `npm run build`, scripts/ensure-setup.sh and the test
// suite's global setup (tests/global-setup.ts) when dist/ is stale.
// Exit status: 0 built; 1 tsc reported errors (dist/ is still emitted and its manifest written, so
// that the tests can run while a type error is being fixed: `npm run typecheck` is the gate).
// See specs/cli.md §1 (the compiled CLI).
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MANIFEST } from '../bin/dist-state.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = join(root, 'dist');
const require = createRequire(import.meta.url);
const ts = require('typescript');

/** Files used at run time beside the modules (recipe scripts read by import.meta.dirname; .mjs modules imported as they are). */
const ASSET = /\.(sh|mjs|proto)$/;

const configPath = join(root, 'tsconfig.build.json');
const parsed = ts.getParsedCommandLineOfConfigFile(
  configPath,
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  },
);
const sourceRoots = parsed.raw.include.map((d) => join(root, d));

// Start time first: a source saved while tsc runs is newer than the build and makes it stale.
// Less a margin: the kernel stamps files with a coarse clock that can lag Date.now() a little.
// bench/out/ (SKIP below) is made first: making it later would change bench/'s time after the build.
mkdirSync(join(root, 'bench', 'out'), { recursive: true });
const builtAtMs = Date.now() - 50;
mkdirSync(dist, { recursive: true });
// The old manifest stays while tsc runs: a build interrupted half-way is still stale by it, since
// whatever made this build necessary (a newer source) is still newer than its start time.

const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', configPath], {
  cwd: root,
  stdio: 'inherit',
});
if (tsc.status === null) throw new Error(`tsc ended by ${tsc.signal}`);

// Every directory and asset under the source roots; the compiled files are tsc's own list.
const paths = new Set([
  relative(root, configPath),
  'tsconfig.json',
  ...parsed.fileNames.map((f) => relative(root, f)),
]);
/** Directories under the source roots that hold no sources: what the benches write (gitignored). */
const SKIP = new Set([join(root, 'bench', 'out')]);
function walk(dir) {
  if (SKIP.has(dir)) return;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if (e.code === 'ENOENT') return; // a listed root that does not exist (yet)
    throw e;
  }
  paths.add(relative(root, dir));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (ASSET.test(e.name)) {
      const out = join(dist, relative(root, p));
      mkdirSync(dirname(out), { recursive: true });
      copyFileSync(p, out);
      paths.add(relative(root, p));
    }
  }
}
for (const r of sourceRoots) walk(r);

await bundle();

const tmp = join(dist, `${MANIFEST}.tmp`);
// The CLI's version, for `eos --version` (bin/eos.cjs reads it here, not from the compiled module).
const cliVersion = /export const VERSION = '([^']+)';/.exec(
  readFileSync(join(root, 'src/cli/version.ts'), 'utf8'),
)?.[1];
if (!cliVersion) throw new Error('build-dist: no VERSION in src/cli/version.ts');
writeFileSync(tmp, JSON.stringify({ version: 1, builtAtMs, cliVersion, paths: [...paths].sort() }) + '\n');
renameSync(tmp, join(dist, MANIFEST));
if (tsc.status !== 0) {
  process.stderr.write('build-dist: tsc reported errors (above); dist/ was emitted anyway\n');
  process.exit(1);
}

/**
 * Bundles the compiled CLI (dist/src/cli/main.js and every command module it imports lazily) into
 * one CommonJS file, dist/bundle/main.cjs, with esbuild, so that a start reads one file and
 * compiles it from V8's code cache (bin/bundle-run.mjs) instead of resolving, reading, compiling
 * and linking ~300 modules (specs/cli.md §1.7). A lazily imported module stays lazy: esbuild wraps
 * it in a function that runs on the first `import()`. Pure-JavaScript libraries are bundled;
 * libraries with native code, or that read files beside themselves, stay packages (EXTERNAL).
 * `import.meta.url` and `import.meta.dirname` in our modules are rewritten to name the module's own
 * compiled file in dist/, relative to the bundle, so the files read beside a module (recipe
 * scripts, the world server, the ingest worker, protos) are found as before. CommonJS has no
 * top-level await: the two modules that await the BLAKE3 loader take the binding that
 * bin/bundle-run.mjs loaded before it ran the bundle (`__eosBlake3()`).
 */
async function bundle() {
  const esbuild = require('esbuild');
  const out = join(dist, 'bundle');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const BUNDLED = new Set([
    'zod',
    'smol-toml',
    'semver',
    'commander',
    'canonicalize',
    'js-xxhash',
    '@noble/ed25519',
  ]);
  const EXTERNAL = Object.keys(pkg.dependencies)
    .filter((d) => !BUNDLED.has(d))
    .flatMap((d) => [d, `${d}/*`]);
  // The modules whose top-level `await loadBlake3()` becomes `__eosBlake3()` (checked below).
  const blake3Awaits = new Set();
  const ownMeta = {
    name: 'eos-import-meta',
    setup(b) {
      b.onLoad({ filter: /\.m?js$/ }, (args) => {
        if (!args.path.startsWith(dist + '/') || args.path.startsWith(out + '/')) return undefined;
        if (args.path === lazyModules) return { contents: lazyModulesBundled, loader: 'js' };
        let text = readFileSync(args.path, 'utf8');
        if (text.includes('await loadBlake3()')) {
          text = text.replaceAll('await loadBlake3()', '__eosBlake3()');
          blake3Awaits.add(relative(dist, args.path));
        }
        if (!text.includes('import.meta')) return { contents: text, loader: 'js' };
        const rel = relative(out, args.path);
        const relDir = relative(out, dirname(args.path)) + '/';
        const url = `new URL(${JSON.stringify(rel)}, __eosBundleUrl).href`;
        const dir = `decodeURIComponent(new URL(${JSON.stringify(relDir)}, __eosBundleUrl).pathname).slice(0, -1)`;
        const contents = text
          .replaceAll('import.meta.url', url)
          .replaceAll('import.meta.dirname', dir)
          .replaceAll(
            'import.meta.filename',
            `decodeURIComponent(new URL(${JSON.stringify(rel)}, __eosBundleUrl).pathname)`,
          );
        return { contents, loader: 'js' };
      });
    },
  };
  // src/kernel/lazy-modules.ts loads zod and smol-toml on first use through createRequire, which
  // in the bundle would load node_modules' copy beside the bundled one. Bundled, the same functions
  // require the very files the static imports bundle: esbuild then evaluates them on the first
  // call (its lazy module wrapper), one instance either way.
  const lazyModules = join(dist, 'src', 'kernel', 'lazy-modules.js');
  const esmIndex = (p) => join(dirname(require.resolve(p)), 'index.js');
  // zod is its own CommonJS file (dist/bundle/vendor/zod.cjs), required on first use: bundled
  // with the rest it would be ~950 KB more of every start's code even when nothing calls it (a
  // no-op build). No module imports zod's values statically (specs/cli.md §1.7).
  const lazyModulesBundled = [
    `let zod, smolToml;`,
    // A computed path, so esbuild leaves the require alone (the file is the second build below).
    `const zodFile = decodeURIComponent(new URL('./vendor/zod.cjs', __eosBundleUrl).pathname);`,
    `export function lazyZod() { return (zod ??= require(zodFile).z); }`,
    `export function lazySmolToml() { return (smolToml ??= require(${JSON.stringify(esmIndex('smol-toml'))})); }`,
    // As in lazy-modules.ts (the same three lines).
    `export function lazySchemas(make) { let made; return () => (made ??= { v: make(lazyZod()) }).v; }`,
  ].join('\n');
  rmSync(out, { recursive: true, force: true });
  const built = await esbuild.build({
    metafile: true,
    entryPoints: { main: join(dist, 'src', 'cli', 'main.js') },
    outdir: out,
    outExtension: { '.js': '.cjs' },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    keepNames: true,
    external: EXTERNAL,
    banner: {
      js: [
        // The bundle's own URL: what our modules' rewritten import.meta resolves against.
        "const __eosBundleUrl = require('node:url').pathToFileURL(__filename).href;",
        // BLAKE3 as bin/bundle-run.mjs loaded it (src/kernel/blake3-load.mjs; its result object).
        'const __eosBlake3 = () => globalThis[Symbol.for("eos.blake3")] ?? (() => {',
        "  throw new Error('dist/bundle/main.cjs runs through bin/eos.mjs, which loads BLAKE3 first');",
        '})();',
      ].join('\n'),
    },
    plugins: [ownMeta],
    logLevel: 'warning',
  });
  // A script compiled from V8's code cache has no dynamic-import callback in Node 20 ("A dynamic
  // import callback was not specified"): every import() must be one esbuild resolved (bundled).
  const dynamic = [
    ...readFileSync(join(out, 'main.cjs'), 'utf8').matchAll(/\bimport\((["'`][^"'`]*["'`])\)/g),
  ];
  if (dynamic.length)
    throw new Error(
      `build-dist: the bundle import()s ${dynamic.map((m) => m[1]).join(', ')} at run time; load externals with createRequire`,
    );
  const wanted = ['src/kernel/digest.js', 'src/kernel/store/file-ops.js'];
  if ([...blake3Awaits].sort().join() !== wanted.join())
    throw new Error(
      `build-dist: the modules awaiting loadBlake3() are ${[...blake3Awaits].join(', ') || 'none'}, ` +
        `not ${wanted.join(', ')}: update the list and bin/bundle-run.mjs`,
    );
  const zodIn = Object.keys(built.metafile.inputs).filter((i) => i.includes('node_modules/zod/'));
  if (zodIn.length)
    throw new Error(
      `build-dist: zod is imported statically (${zodIn[0]}); use lazyZod()/lazySchemas() (src/kernel/lazy-modules.ts)`,
    );
  await esbuild.build({
    entryPoints: { zod: esmIndex('zod') },
    outdir: join(out, 'vendor'),
    outExtension: { '.js': '.cjs' },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  });
}
