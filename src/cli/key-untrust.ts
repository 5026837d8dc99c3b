/**
 * `eos key untrust KEYID|NAME --for PURPOSE[,…]`: removes a key from the trust policy for the given
 * purposes (a key id need not be in the keyring) and prints the purposes it is still trusted for.
 * @see specs/signatures.md §5
 */
import { configDir } from '../kernel/config.ts';
import { isDigest } from '../kernel/digest.ts';
import {
  findKey,
  readKeyring,
  readTrustPolicy,
  trustedPurposes,
  untrustKey,
  writeTrustPolicy,
  type KeyId,
} from '../kernel/keys/index.ts';
import { parsePurposesArg } from './key-args.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/**
 * Untrusts a key for purposes.
 * @throws UsageError E1 (bad --for), KeyError E9 (unknown name), ConfigError E11
 */
export async function run(opts: GlobalOptions & { key: string; for?: string }): Promise<CommandResult> {
  const purposes = parsePurposesArg(opts.for);
  const config = configDir();
  const ring = await readKeyring(config);
  const id: KeyId = isDigest(opts.key) ? opts.key : findKey(ring, opts.key).id;
  const name = ring.byId.get(id)?.name ?? '-';
  const policy = untrustKey(await readTrustPolicy(config), id, purposes);
  await writeTrustPolicy(config, policy, ring);
  const now = trustedPurposes(policy, id);
  return {
    lines: [`${name}\t${id}\t${now.join(',') || '-'}`],
    json: { version: 1, name: name === '-' ? null : name, key: id, trustedFor: now },
  };
}
