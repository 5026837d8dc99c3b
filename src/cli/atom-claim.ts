/**
 * `eos atom claim LABEL --key NAME [--repo PATH]`: binds LABEL to the key NAME in the repository.
 * Prints `claimed|held\tLABEL\tKEYID\tCLAIM-DIGEST`.
 * @see specs/atom.md §9.1
 */
import { claimLabel, openRepo, signerFromKey } from '../../atoms/index.ts';
import { configDir } from '../kernel/config.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

export async function run(
  opts: GlobalOptions & { label: string; key: string; repo?: string },
): Promise<CommandResult> {
  const signer = await signerFromKey(configDir(), opts.key);
  const repo = await openRepo(opts.repo ?? '.');
  const r = await claimLabel(repo, opts.label, signer);
  return {
    lines: [`${r.created ? 'claimed' : 'held'}\t${r.label}\t${r.key}\t${r.claim}`],
    json: { version: 1, label: r.label, key: r.key, claim: r.claim, commit: r.commit, created: r.created },
  };
}
