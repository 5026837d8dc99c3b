/**
 * `eos key generate NAME`: makes an Ed25519 key pair under `<config>/keys/` and prints its name
 * and key id.
 * @see specs/signatures.md §4
 */
import { configDir } from '../kernel/config.ts';
import { generateKey } from '../kernel/keys/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/**
 * Generates key NAME in the config directory.
 * @throws KeyError E9 on a bad or taken name
 */
export async function run(opts: GlobalOptions & { name: string }): Promise<CommandResult> {
  const e = await generateKey(configDir(), opts.name);
  return {
    lines: [`${e.name}\t${e.id}`],
    json: { version: 1, name: e.name, key: e.id },
  };
}
