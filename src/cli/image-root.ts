/**
 * `eos image ROOT -o FILE`: writes a stored composition's composefs image (its merged view, files
 * redirected into the store's `objects/`), from the image cache `STORE/images/` when present.
 * Prints `ok\tFILE\tBYTES\tROOT`.
 * @see specs/composition.md §12
 */
import { readFile } from 'node:fs/promises';
import { Store, UsageError, parseDigest } from '../kernel/index.ts';
import { CompositionStore, checkSwaps, compositionImage } from '../../composer/index.ts';
import { writeFileAtomic } from '../kernel/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Runs `eos image ROOT -o FILE`. @throws UsageError E1, NotFoundError E4, CompositionError E18, ComposefsError E14 */
export async function run(opts: GlobalOptions & { root: string; output?: string }): Promise<CommandResult> {
  const root = parseDigest(opts.root, 'ROOT');
  if (!opts.output) throw new UsageError('eos image ROOT: -o FILE is required');
  const cs = new CompositionStore(new Store(opts.store));
  await checkSwaps(cs, root); // E30/E31/E32: a swapped entry's proof is re-checked, never trusted
  const image = await compositionImage(cs, root);
  await writeFileAtomic(opts.output, await readFile(image.path));
  return {
    lines: [`ok\t${opts.output}\t${image.sizeBytes}\t${root}`],
    json: {
      version: 1,
      root,
      image: opts.output,
      cache: image.path,
      cached: image.cached,
      sizeBytes: image.sizeBytes,
    },
  };
}
