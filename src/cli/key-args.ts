/**
 * Argument parsing shared by the `eos key …`, `eos sign` and `eos verify-signature` commands.
 */
import { UsageError } from '../kernel/errors.ts';
import { readFileBounded } from '../kernel/read-bounded.ts';
import { isPurpose, PURPOSES, type Purpose } from '../kernel/keys/index.ts';

/**
 * Parses `--for PURPOSE[,PURPOSE…]`.
 * @param single when true, exactly one purpose is allowed
 * @throws UsageError E1 when missing, empty, unknown, or several where one is expected
 */
export function parsePurposesArg(value: unknown, single = false): Purpose[] {
  if (typeof value !== 'string' || value === '')
    throw new UsageError(`--for: a purpose is required (one of ${PURPOSES.join(', ')})`);
  const list = value.split(',').map((s) => s.trim());
  for (const p of list)
    if (!isPurpose(p))
      throw new UsageError(`--for: ${JSON.stringify(p)} is not a purpose (one of ${PURPOSES.join(', ')})`);
  if (single && list.length !== 1) throw new UsageError(`--for: give exactly one purpose, not ${value}`);
  return [...new Set(list as Purpose[])];
}

/**
 * Reads a command's input file (a signature, a public key text), or stdin for `-`, at most 1 MiB.
 * @param what names the input in errors (`signature`, `public key`)
 * @throws NotFoundError E4 naming the file when it does not exist; InputTooLargeError E46 past
 *   1 MiB (`/dev/zero` ends); NotAFileError E48 for a directory; IoError E12
 */
export async function readInputArg(file: string, what = 'input'): Promise<Uint8Array> {
  return readFileBounded(file, { what });
}
