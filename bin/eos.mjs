#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS EOS_NODE_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// `node bin/eos.mjs …` and this file as a program run the `eos` executable, bin/eos.cjs (see there
// and specs/cli.md §1): kept for the scripts and tests that name it.
import './eos.cjs';
