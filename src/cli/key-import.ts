/**
 * `eos key import FILE|- [--name NAME]`: adds a public key text (from a file, or stdin for `-`)
 * to the keyring as `<name>.pub`, so signatures by that key can be verified.
 * @see specs/signatures.md §4.3
 */
import { configDir } from '../kernel/config.ts';
import { importPublicKey } from '../kernel/keys/index.ts';
import { readInputArg } from './key-args.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/**
 * Imports a public key text.
 * @throws NotFoundError E4 (no file), KeyError E9 (malformed, name taken, key known)
 */
export async function run(opts: GlobalOptions & { file: string; name?: string }): Promise<CommandResult> {
  const source = opts.file === '-' ? 'stdin' : opts.file;
  const bytes = await readInputArg(opts.file, 'public key');
  const e = await importPublicKey(configDir(), bytes, source, opts.name);
  return {
    lines: [`${e.name}\t${e.id}`],
    json: { version: 1, name: e.name, key: e.id },
    notes: [`imported key "${e.name}"; trust it with: eos key trust ${e.name} --for PURPOSE`],
  };
}
