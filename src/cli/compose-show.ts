/**
 * `eos compose show ROOT`: one line per entry, `NAME\tPREFIX\tKIND DIGEST-or-TARGET\tCONSTRAINT`,
 * then the precedence order if any.
 * @see specs/composition.md §2
 */
import { Store, parseDigest } from '../kernel/index.ts';
import { CompositionStore, describeConstraint, entryNames } from '../../composer/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Runs `eos compose show ROOT`. @throws DigestError E2, NotFoundError E4 */
export async function run(opts: GlobalOptions & { root: string }): Promise<CommandResult> {
  const root = parseDigest(opts.root, 'ROOT');
  const c = await new CompositionStore(new Store(opts.store)).load(root);
  const lines = entryNames(c).map((name) => {
    const e = c.entries[name]!;
    const n = e.node;
    const node =
      n.kind === 'symlink'
        ? `symlink -> ${n.target}`
        : n.kind === 'file'
          ? `file ${n.digest}${n.executable ? ' (executable)' : ''}`
          : `tree ${n.digest}`;
    return `${name}\t${e.at}\t${node}\t${describeConstraint(e.constraint)}`;
  });
  if (c.precedence.length) lines.push(`precedence\t${c.precedence.join(' > ')}`);
  return { lines, json: { version: 1, root, composition: c } };
}
