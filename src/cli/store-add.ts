/**
 * `eos store add PATH [--root NAME]`: ingests a directory (prints its tree digest) or a file
 * (prints its blob digest); `--root` also pins it under `roots/NAME`.
 * @see specs/store.md §6
 */
import { Store } from '../kernel/store/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos store add`. */
export interface StoreAddOptions extends GlobalOptions {
  path: string;
  root?: string;
}

/** Runs `eos store add`. @throws E4, E6, E8, E12 (see Store.ingest, Store.addRoot) */
export async function run(opts: StoreAddOptions): Promise<CommandResult> {
  const store = new Store(opts.store);
  const r = await store.ingest(opts.path);
  if (opts.root) await store.addRoot(opts.root, r.digest);
  return {
    lines: [r.digest],
    json: { version: 1, digest: r.digest, kind: r.kind, files: r.files, bytes: r.bytes, written: r.written },
  };
}
