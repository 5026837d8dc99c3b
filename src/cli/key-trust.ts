/**
 * `eos key trust KEYID|NAME --for PURPOSE[,…]`: adds a known key to the trust policy for the
 * given purposes (rewrites `trust.toml` atomically) and prints the purposes it is now trusted for.
 * @see specs/signatures.md §5
 */
import { configDir } from '../kernel/config.ts';
import {
  findKey,
  readKeyring,
  readTrustPolicy,
  trustKey,
  trustedPurposes,
  writeTrustPolicy,
} from '../kernel/keys/index.ts';
import { parsePurposesArg } from './key-args.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/**
 * Trusts a known key for purposes.
 * @throws UsageError E1 (bad --for), KeyError E9 (unknown key), ConfigError E11
 */
export async function run(opts: GlobalOptions & { key: string; for?: string }): Promise<CommandResult> {
  const purposes = parsePurposesArg(opts.for);
  const config = configDir();
  const ring = await readKeyring(config);
  const e = findKey(ring, opts.key);
  const policy = trustKey(await readTrustPolicy(config), e.id, purposes);
  await writeTrustPolicy(config, policy, ring);
  const now = trustedPurposes(policy, e.id);
  return {
    lines: [`${e.name}\t${e.id}\t${now.join(',')}`],
    json: { version: 1, name: e.name, key: e.id, trustedFor: now },
  };
}
