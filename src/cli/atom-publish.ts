/**
 * `eos atom publish [PATH] --key NAME`: publishes the atom at PATH as of the current commit.
 * Prints `published|unchanged\tLABEL\tVERSION\tRECORD-DIGEST\tCONTENT-DIGEST`.
 * @see specs/atom.md §9.2
 */
import { openRepo, publishAtom, signerFromKey, uncommittedUnder } from '../../atoms/index.ts';
import { configDir } from '../kernel/config.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

export async function run(opts: GlobalOptions & { path?: string; key: string }): Promise<CommandResult> {
  const signer = await signerFromKey(configDir(), opts.key);
  const dir = opts.path ?? '.';
  const repo = await openRepo(dir);
  const r = await publishAtom(repo, dir, signer);
  const dirty = await uncommittedUnder(repo, dir);
  return {
    ...(dirty.length
      ? {
          notes: [
            `note: ${dirty.length} uncommitted change(s) under ${r.record.source.path} (e.g. ${dirty[0]}) are not part of the published atom (commit ${r.record.source.commit.slice(0, 12)} is)`,
          ],
        }
      : {}),
    lines: [
      `${r.created ? 'published' : 'unchanged'}\t${r.label}\t${r.version}\t${r.digest}\t${r.record.content}`,
    ],
    json: { version: 1, created: r.created, record: r.record, digest: r.digest, commit: r.commit },
  };
}
