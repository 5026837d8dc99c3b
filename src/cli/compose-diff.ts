/**
 * `eos compose diff A B`: entries added, removed or changed (`added NAME`, …), then the paths of
 * the merged view that change (`+ PATH`, `- PATH`, `~ PATH`).
 * @see specs/composition.md §8
 */
import { Store, parseDigest } from '../kernel/index.ts';
import { CompositionStore, diffEntries, diffViews, storeAccess } from '../../composer/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

const MARK = { added: '+', removed: '-', changed: '~' } as const;

/** Runs `eos compose diff A B`. @throws DigestError E2, NotFoundError E4, CompositionError E18 */
export async function run(opts: GlobalOptions & { a: string; b: string }): Promise<CommandResult> {
  const a = parseDigest(opts.a, 'A');
  const b = parseDigest(opts.b, 'B');
  const store = new Store(opts.store);
  const cs = new CompositionStore(store);
  const [ca, cb] = [await cs.load(a), await cs.load(b)];
  const entries = diffEntries(ca, cb);
  const [va, vb] = [await cs.view(a), await cs.view(b)];
  const paths = await diffViews(storeAccess(store), va.tree, vb.tree);
  return {
    lines: [
      ...entries.map((e) => `${e.change}\t${e.name}`),
      ...paths.map((p) => `${MARK[p.change]}\t${p.path}`),
    ],
    json: {
      version: 1,
      a,
      b,
      entries: entries.map((e) => ({ name: e.name, change: e.change })),
      paths,
    },
  };
}
