/**
 * `eos compose sign ROOT --key NAME [--for PURPOSE]`: signs a stored composition's root (purpose
 * `compositions` by default) and keeps the detached signature beside it.
 * @see specs/composition.md §11
 */
import { Store, UsageError, configDir, isPurpose, parseDigest } from '../kernel/index.ts';
import { CompositionStore } from '../../composer/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Runs `eos compose sign`. @throws UsageError E1, NotFoundError E4, KeyError E9 */
export async function run(
  opts: GlobalOptions & { root: string; key?: string; for?: string },
): Promise<CommandResult> {
  const root = parseDigest(opts.root, 'ROOT');
  if (!opts.key) throw new UsageError('--key: the name of a secret key is required');
  const purpose = opts.for ?? 'compositions';
  if (!isPurpose(purpose)) throw new UsageError(`--for: ${JSON.stringify(purpose)} is not a purpose`);
  const sig = await new CompositionStore(new Store(opts.store)).sign(root, configDir(), opts.key, purpose);
  return { lines: [`signed\t${root}\t${sig.key}\t${purpose}`], json: { version: 1, signature: sig } };
}
