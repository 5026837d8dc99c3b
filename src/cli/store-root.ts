/**
 * `eos store root add NAME DIGEST`, `eos store root rm NAME`, `eos store root ls`: the gc roots
 * in `roots/`.
 * @see specs/store.md §9.1
 */
import { parseDigest } from '../kernel/digest.ts';
import { Store } from '../kernel/store/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos store root …`. */
export interface StoreRootOptions extends GlobalOptions {
  op: 'add' | 'rm' | 'ls';
  name?: string;
  digest?: string;
}

/** Runs `eos store root`. @throws E2, E4, E8 */
export async function run(opts: StoreRootOptions): Promise<CommandResult> {
  const store = new Store(opts.store);
  if (opts.op === 'add') {
    await store.addRoot(opts.name!, parseDigest(opts.digest, 'DIGEST'));
    return { lines: [`ok\t${opts.name}`], json: { version: 1, name: opts.name, digest: opts.digest } };
  }
  if (opts.op === 'rm') {
    await store.removeRoot(opts.name!);
    return { lines: [`ok\t${opts.name}`], json: { version: 1, name: opts.name } };
  }
  const roots = await store.listRoots();
  return { lines: roots.map((r) => `${r.name}\t${r.digest}`), json: { version: 1, roots } };
}
