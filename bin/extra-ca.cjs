'use strict';
// Required first by bin/eos.cjs. The `#!` line of bin/eos.cjs moves NODE_EXTRA_CA_CERTS aside
// (`env -u NODE_EXTRA_CA_CERTS EOS_NODE_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS}`), so that Node does
// not parse a CA bundle at every start (~55 ms with Debian's). This puts the variable back into
// the environment, for child processes, and records for Eos's TLS clients that Node did not load
// it (src/kernel/tls-trust.ts adds those certificates itself). See specs/cli.md §1.9.
const moved = process.env.EOS_NODE_EXTRA_CA_CERTS;
if (moved !== undefined) {
  delete process.env.EOS_NODE_EXTRA_CA_CERTS;
  if (moved !== '') {
    process.env.NODE_EXTRA_CA_CERTS = moved;
    globalThis[Symbol.for('eos.extraCaCertsNotLoaded')] = moved;
  }
}
