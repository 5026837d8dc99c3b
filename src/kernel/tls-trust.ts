/**
 * The extra certificate authorities a user names in `NODE_EXTRA_CA_CERTS`, for Eos's own TLS
 * clients (an `https://` or `grpcs://` binary cache, a recording fetch's upstream connections).
 *
 * Node parses that file when it starts, before any JavaScript runs, whether or not the process
 * ever makes a TLS connection: with Debian's bundle (~140 certificates) that is ~55 ms of every
 * start, more than the rest of `eos --version`. So the `eos` executable's `#!` line moves the
 * variable aside (`env -u NODE_EXTRA_CA_CERTS EOS_NODE_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS}`),
 * `bin/eos.mjs` puts it back into the environment at once (child processes see what the user
 * set) and records here that this process started without it; each TLS client then adds the
 * file's certificates to Node's own roots, read on first use. Run as `node bin/eos.mjs`, Node
 * loads the file itself and nothing here changes anything.
 *
 * @see specs/cli.md §1.9
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Where `bin/eos.mjs` records the file Node did not load (a path; absent when Node loaded it). */
const EXTRA_CA_MOVED = Symbol.for('eos.extraCaCertsNotLoaded');

/** The extra file's PEM text, once read (undefined: not read yet; null: nothing to add). */
let extraPem: string | null | undefined;

/**
 * The PEM text of the `NODE_EXTRA_CA_CERTS` file when Node did not load it at start (see the
 * module doc), read on the first call; undefined when there is nothing to add (Node loaded it, or
 * none is set). A file that cannot be read is reported on stderr once and left out, as Node does.
 */
export function extraCaCertificates(): string | undefined {
  if (extraPem === undefined) {
    const v = (globalThis as Record<symbol, unknown>)[EXTRA_CA_MOVED];
    extraPem = null;
    if (typeof v === 'string' && v !== '')
      try {
        extraPem = readFileSync(v, 'utf8');
      } catch (e) {
        process.stderr.write(
          `eos: warning: ignoring extra certificates in ${v} (NODE_EXTRA_CA_CERTS): ${(e as Error).message}\n`,
        );
        extraPem = '';
      }
  }
  return extraPem ?? undefined;
}

/**
 * The CA certificates a TLS client of this process must trust: undefined when Node's defaults are
 * already right (its bundled roots plus, when set, `NODE_EXTRA_CA_CERTS`, loaded at start); else
 * Node's bundled roots followed by the extra file's PEM text ({@link extraCaCertificates}), as
 * Node itself would trust them.
 * - shape: PEM strings, for `tls.connect`'s and `https.Agent`'s `ca`
 */
export function tlsCaCertificates(): string[] | undefined {
  const extra = extraCaCertificates();
  if (extra === undefined) return undefined;
  const tls = require('node:tls') as typeof import('node:tls');
  return extra ? [...tls.rootCertificates, extra] : [...tls.rootCertificates];
}
