/**
 * `eos key export NAME`: prints the public key text `eos-public-key-v1 ed25519 <hex> <name>`,
 * which `eos key import` reads.
 * @see specs/signatures.md §4.1
 */
import { configDir } from '../kernel/config.ts';
import { exportPublicKey, parsePublicKeyText } from '../kernel/keys/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/**
 * Returns the public key text of NAME.
 * @throws KeyError E9 when there is no such key
 */
export async function run(opts: GlobalOptions & { name: string }): Promise<CommandResult> {
  const text = await exportPublicKey(configDir(), opts.name);
  const k = parsePublicKeyText(text, opts.name);
  if (opts.json) return { json: { version: 1, name: k.name, key: k.id, publicKeyText: text } };
  return { raw: new TextEncoder().encode(text) };
}
