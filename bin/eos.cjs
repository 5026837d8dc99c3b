#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS EOS_NODE_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// (No V8 flag on this line: any makes V8 reject the code cache of Node's own modules, which costs
// every start. specs/cli.md §1.8.)
// The `eos` executable. It runs the compiled CLI in dist/ (built by `npm ci`/`npm run build`,
// scripts/build-dist.mjs) when dist/ is current with the sources. A stale or missing dist/ is never
// run: the sources are run through tsx instead (a development checkout has it) with a note on
// stderr, and without tsx eos refuses to start. `eos --version` loads nothing else: this file is
// CommonJS, so that it starts without Node's ESM loader, and the version is in dist/'s manifest.
// bin/eos.mjs is the same program for `node bin/eos.mjs`. See specs/cli.md §1 (the compiled CLI).
'use strict';
require('./extra-ca.cjs'); // first: NODE_EXTRA_CA_CERTS back into the environment (specs/cli.md §1.9)
const { distState } = require('./dist-state.cjs');

const root = require('node:path').dirname(__dirname);
const state = distState(root);
const argv = process.argv;

async function run() {
  if (state.fresh) {
    const { runBundle } = await import('./bundle-run.mjs');
    process.exitCode = await runBundle(root, argv);
    return;
  }
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(
      `eos: ${state.reason}; run \`npm run build\` (tsx is not installed to run the sources)\n`,
    );
    process.exit(1);
  }
  process.stderr.write(
    `eos: ${state.reason}; running the sources through tsx (\`npm run build\` to compile)\n`,
  );
  register();
  const { main } = await import('../src/cli/main.ts');
  process.exitCode = await main(argv);
}

if (state.fresh && state.version && argv.length === 3 && (argv[2] === '--version' || argv[2] === '-V'))
  process.stdout.write(`${state.version}\n`);
else void run();
