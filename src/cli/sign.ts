/**
 * `eos sign DIGEST --key NAME --for PURPOSE`: signs a digest with a secret key and prints the
 * detached signature object in its canonical form (one line; save it to a file to verify later).
 * @see specs/signatures.md §2, §3
 */
import { configDir } from '../kernel/config.ts';
import { parseDigest } from '../kernel/digest.ts';
import { UsageError } from '../kernel/errors.ts';
import { encodeSignature, signWithKey } from '../kernel/keys/index.ts';
import { parsePurposesArg } from './key-args.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/**
 * Signs DIGEST for one purpose with a secret key.
 * @throws DigestError E2, UsageError E1, KeyError E9
 */
export async function run(
  opts: GlobalOptions & { digest: string; key?: string; for?: string },
): Promise<CommandResult> {
  const digest = parseDigest(opts.digest, 'DIGEST');
  const [purpose] = parsePurposesArg(opts.for, true);
  if (!opts.key) throw new UsageError('--key: the name of a secret key is required');
  const sig = await signWithKey(configDir(), opts.key, digest, purpose!);
  // The canonical form in both modes (it is JSON): what `eos verify-signature` reads.
  return { lines: [new TextDecoder().decode(encodeSignature(sig))] };
}
