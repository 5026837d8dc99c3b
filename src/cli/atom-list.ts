/**
 * `eos atom list [--repo LOCATION]`: what a repository publishes, from its set commit. Prints
 * `LABEL\tVERSION\tRECORD-DIGEST\tCONTENT-DIGEST` per atom (no verification: see `eos atom verify`).
 * @see specs/atom.md §8
 */
import { defaultSetCache, openAtomSource, readPublishTree, readSetState } from '../../atoms/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

export async function run(opts: GlobalOptions & { repo?: string }): Promise<CommandResult> {
  const { repo } = await openAtomSource(opts.repo ?? '.', defaultSetCache());
  const state = await readSetState(repo);
  const lines: string[] = [];
  const atoms: unknown[] = [];
  for (const a of state.atoms) {
    const p = await readPublishTree(repo, a.tree, `${a.label}@${a.version}`);
    lines.push(`${a.label}\t${a.version}\t${p.digest}\t${p.record.content}`);
    atoms.push({ label: a.label, version: a.version, record: p.digest, content: p.record.content });
  }
  return { lines, json: { version: 1, set: state.commit, claims: state.claims.map((c) => c.label), atoms } };
}
