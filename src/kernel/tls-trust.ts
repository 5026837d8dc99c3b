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
export const EXTRA_CA_MOVED = Symbol.for('eos.extraCaCertsNotLoaded');

/** The extra CA file Node did not load at start (see the module doc), or undefined. */
export function extraCaFileNotLoaded(): string | undefined {
  const v = (globalThis as Record<symbol, unknown>)[EXTRA_CA_MOVED];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

let trust: string[] | null | undefined;

/**
 * The CA certificates a TLS client of this process must trust: undefined when Node's defaults are
 * already right (its bundled roots plus, when set, `NODE_EXTRA_CA_CERTS`, loaded at start); else
 * Node's bundled roots followed by the PEM text of the extra file, as Node itself would trust
 * them. A file that cannot be read is reported on stderr once and left out, as Node does.
 * - shape: PEM strings, for `tls.connect`'s and `https.Agent`'s `ca`
 */
export function tlsCaCertificates(): string[] | undefined {
  if (trust !== undefined) return trust ?? undefined;
  const file = extraCaFileNotLoaded();
  if (!file) {
    trust = null;
    return undefined;
  }
  const tls = require('node:tls') as typeof import('node:tls');
  let extra: string[] = [];
  try {
    extra = [readFileSync(file, 'utf8')];
  } catch (e) {
    process.stderr.write(
      `eos: warning: ignoring extra certificates in ${file} (NODE_EXTRA_CA_CERTS): ${(e as Error).message}\n`,
    );
  }
  trust = [...tls.rootCertificates, ...extra];
  return trust;
}
