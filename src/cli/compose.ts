/**
 * `eos compose FILE`: reads a composition TOML file, ingests its `path` entries, checks the merge,
 * stores the composition (a blob whose digest is its root, pinned under `roots/`) and prints the
 * root. Shadowed paths (resolved by precedence) are listed on stderr.
 * @see specs/composition.md §9, §10
 */
import { dirname, resolve } from 'node:path';
import { Store, UsageError, readFileBounded } from '../kernel/index.ts';
import { CompositionStore, parseCompositionToml } from '../../composer/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos compose FILE`. */
export interface ComposeOptions extends GlobalOptions {
  file?: string;
}

/** The bound on a composition TOML read by `eos compose FILE`: 64 MiB. */
const COMPOSITION_FILE_MAX_BYTES = 64 << 20;

/**
 * Runs `eos compose FILE`.
 * @throws CompositionError E18 (located), NotFoundError E4, InputTooLargeError E46, NotAFileError E48
 */
export async function run(opts: ComposeOptions): Promise<CommandResult> {
  if (!opts.file)
    throw new UsageError('eos compose: give a composition TOML file, or one of show, diff, sign, verify');
  // Bounded: a composition TOML of 10,000 entries is about 2 MB; /dev/zero is E46, not a hang.
  const text = (
    await readFileBounded(opts.file, { max: COMPOSITION_FILE_MAX_BYTES, what: 'composition file' })
  ).toString('utf8');
  const authored = parseCompositionToml(text, opts.file);
  const cs = new CompositionStore(new Store(opts.store));
  const c = await cs.resolveAuthored(authored, dirname(resolve(opts.file)), opts.file);
  const { root, view } = await cs.save(c);
  return {
    lines: [root],
    json: { version: 1, root, view: view.tree, shadowed: view.shadowed },
    notes: view.shadowed.map((s) => `shadowed\t${s.path}\t${s.winner} over ${s.shadowed.join(', ')}`),
  };
}
