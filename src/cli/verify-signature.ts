/**
 * `eos verify-signature DIGEST FILE|- --for PURPOSE`: checks that the signature in FILE signs
 * DIGEST for PURPOSE with a key of the keyring that the trust policy trusts for PURPOSE. Prints
 * `ok\tDIGEST\tKEYID\tNAME\tPURPOSE`; a rejection is an `[E10]` error naming the reason.
 * @see specs/signatures.md §6
 */
import { configDir } from '../kernel/config.ts';
import { parseDigest } from '../kernel/digest.ts';
import { verifySignatureBytes } from '../kernel/keys/index.ts';
import { parsePurposesArg, readInputArg } from './key-args.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/**
 * Verifies a signature file.
 * @throws SignatureError E10 with the reason, DigestError E2, UsageError E1, NotFoundError E4, ConfigError E11
 */
export async function run(
  opts: GlobalOptions & { digest: string; file: string; for?: string },
): Promise<CommandResult> {
  const digest = parseDigest(opts.digest, 'DIGEST');
  const [purpose] = parsePurposesArg(opts.for, true);
  const what = opts.file === '-' ? 'signature from stdin' : opts.file;
  const bytes = await readInputArg(opts.file, 'signature');
  const v = await verifySignatureBytes(configDir(), bytes, what, digest, purpose!);
  return {
    lines: [`ok\t${v.signed}\t${v.key}\t${v.keyName}\t${v.purpose}`],
    json: { version: 1, ok: true, signed: v.signed, key: v.key, keyName: v.keyName, purpose: v.purpose },
  };
}
