/**
 * `eos key list`: every known key (own and imported) with its key id, whether its secret is on
 * this machine, and the purposes it is trusted for; then trusted key ids that are not in the
 * keyring. Plain: `NAME\tKEYID\tsecret|public\tPURPOSE,…|-` (missing keys have name `-` and kind
 * `missing`). `--json`: `{version: 1, keys: [{name, key, kind, trustedFor}]}`.
 */
import { configDir } from '../kernel/config.ts';
import { PURPOSES, readKeyring, readTrustPolicy, trustedPurposes, type KeyId } from '../kernel/keys/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/**
 * Lists the keyring with trust per key.
 * @throws KeyError E9, ConfigError E11 on malformed key files or trust.toml
 */
export async function run(_opts: GlobalOptions): Promise<CommandResult> {
  const config = configDir();
  const [ring, policy] = await Promise.all([readKeyring(config), readTrustPolicy(config)]);
  const keys: { name: string | null; key: KeyId; kind: string; trustedFor: string[] }[] = [];
  for (const e of [...ring.byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1)))
    keys.push({
      name: e.name,
      key: e.id,
      kind: e.hasSecret ? 'secret' : 'public',
      trustedFor: trustedPurposes(policy, e.id),
    });
  const missing = [...new Set(PURPOSES.flatMap((p) => policy.purposes[p]))].filter(
    (id) => !ring.byId.has(id),
  );
  for (const id of missing.sort())
    keys.push({ name: null, key: id, kind: 'missing', trustedFor: trustedPurposes(policy, id) });
  return {
    lines: keys.map((k) => `${k.name ?? '-'}\t${k.key}\t${k.kind}\t${k.trustedFor.join(',') || '-'}`),
    json: { version: 1, keys },
    notes: missing.length
      ? [`note: ${missing.length} trusted key id(s) are not in the keyring; import them with eos key import`]
      : [],
  };
}
