/**
 * `eos store stats`: counts and sizes (bytes) of the store as `key\tvalue` lines.
 * @see specs/store.md §10
 */
import { Store } from '../kernel/store/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Runs `eos store stats`. */
export async function run(opts: GlobalOptions): Promise<CommandResult> {
  const s = await new Store(opts.store).stats();
  return { lines: Object.entries(s).map(([k, v]) => `${k}\t${v}`), json: { version: 1, ...s } };
}
