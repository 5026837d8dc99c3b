/**
 * Which binary caches `eos build` asks, from `CONFIG/cache.toml` (the configuration directory of
 * `src/kernel/config.ts`), the way Nix reads `substituters` from nix.conf; the keys it trusts for
 * their records are in the same directory's `trust.toml` (purposes `builds` and `cache`).
 *
 *   version = 1
 *   substituters = ["http://127.0.0.1:8080/eos", "grpc://127.0.0.1:50051"]
 *
 * @see specs/cache.md §3
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { ConfigError, osError } from '../src/kernel/index.ts';

/** The configuration file's name in the configuration directory. */
export const CACHE_CONFIG_FILE = 'cache.toml';

/** A cache URL Eos can open: `http(s)://…` (HTTP backend) or `grpc(s)://host:port[/instance]` (REAPI). */
const URL_RE = /^(https?|grpcs?):\/\/[^\s/]+(\/\S*)?$/;

/** True when `url` names a cache Eos has a backend for. */
export function isCacheUrl(url: string): boolean {
  return URL_RE.test(url);
}

/**
 * The substituters listed in `CONFIG/cache.toml`, in order; none when the file does not exist.
 * @throws ConfigError E11 naming the file and field when it is malformed
 */
export async function readSubstituters(config: string): Promise<string[]> {
  const file = join(config, CACHE_CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw osError(e, file);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text);
  } catch (e) {
    if (e instanceof TomlError) throw new ConfigError(`${file}:${e.line}: ${e.message.split('\n')[0]}`);
    throw e;
  }
  if (doc.version !== 1) throw new ConfigError(`${file}: version: expected version = 1`);
  for (const k of Object.keys(doc))
    if (k !== 'version' && k !== 'substituters')
      throw new ConfigError(`${file}: ${k}: unknown field (allowed: version, substituters)`);
  const subs = doc.substituters ?? [];
  if (!Array.isArray(subs)) throw new ConfigError(`${file}: substituters: expected a list of URLs`);
  return subs.map((u, i) => {
    if (typeof u !== 'string' || !isCacheUrl(u))
      throw new ConfigError(
        `${file}: substituters[${i}]: ${JSON.stringify(u)} is not a cache URL (http://, https://, grpc://, grpcs://)`,
      );
    return u;
  });
}
