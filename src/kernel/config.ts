/**
 * Where Eos keeps things on a machine: the store and the configuration directory (keys, trust
 * policy). Reads the environment only here, so the rest of the kernel stays pure.
 *
 * @see specs/store.md §4 (store location), specs/signatures.md (config directory)
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The store directory: `explicit` (from `--store`), else `$EOS_STORE`, else
 * `$XDG_DATA_HOME/eos/store`, else `~/.local/share/eos/store`. Always an absolute path.
 */
export function storeDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return resolve(explicit);
  if (env.EOS_STORE) return resolve(env.EOS_STORE);
  const data = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share');
  return resolve(data, 'eos', 'store');
}

/**
 * The configuration directory (keys under `keys/`, `trust.toml`): `$EOS_CONFIG_DIR`, else
 * `$XDG_CONFIG_HOME/eos`, else `~/.config/eos`. Always an absolute path.
 */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.EOS_CONFIG_DIR) return resolve(env.EOS_CONFIG_DIR);
  const cfg = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return resolve(cfg, 'eos');
}
