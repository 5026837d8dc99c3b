/**
 * `eos store cat DIGEST`: a blob's bytes, raw; for a tree, its canonical JSON bytes.
 * @see specs/store.md §2–§3
 */
import { parseDigest } from '../kernel/digest.ts';
import { NotFoundError } from '../kernel/errors.ts';
import { Store } from '../kernel/store/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos store cat`. */
export interface StoreCatOptions extends GlobalOptions {
  digest: string;
}

/** Runs `eos store cat`. @throws DigestError E2; NotFoundError E4; CorruptObjectError E5 */
export async function run(opts: StoreCatOptions): Promise<CommandResult> {
  const d = parseDigest(opts.digest, 'DIGEST');
  const store = new Store(opts.store);
  if (await store.hasBlob(d)) return { raw: await store.readBlob(d) };
  if (await store.hasTree(d)) return { raw: await store.readTreeBytes(d) };
  throw new NotFoundError(`${d} is not in the store ${store.root} (neither a blob nor a tree)`, {
    data: { digest: d },
  });
}
