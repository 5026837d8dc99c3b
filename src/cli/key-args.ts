/**
 * Argument parsing shared by the `eos key …`, `eos sign` and `eos verify-signature` commands.
 */
import { readFile } from 'node:fs/promises';
import { NotFoundError, UsageError } from '../kernel/errors.ts';
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
 * Reads a command's input file, or stdin for `-`.
 * @throws NotFoundError E4 naming the file when it does not exist
 */
export async function readInputArg(file: string): Promise<Uint8Array> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }
  try {
    return await readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new NotFoundError(`${file}: no such file`, { data: { file } });
    throw e;
  }
}
