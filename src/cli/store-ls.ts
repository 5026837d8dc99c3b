/**
 * `eos store ls DIGEST`: a tree's entries like `ls -l`, one tab-separated line each:
 * mode, size in bytes (entries in the subtree for a directory), digest (`-` for a symlink), name
 * (`name -> target` for a symlink).
 * @see specs/store.md §3
 */
import { parseDigest } from '../kernel/digest.ts';
import { NotFoundError } from '../kernel/errors.ts';
import { Store, type TreeEntry } from '../kernel/store/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos store ls`. */
export interface StoreLsOptions extends GlobalOptions {
  digest: string;
}

function mode(e: TreeEntry): string {
  if (e.kind === 'directory') return 'drwxr-xr-x';
  if (e.kind === 'symlink') return 'lrwxrwxrwx';
  return e.executable ? '-rwxr-xr-x' : '-rw-r--r--';
}

/** Formats one entry as a tab-separated `ls -l` line. */
export function formatEntry(e: TreeEntry): string {
  if (e.kind === 'symlink')
    return [mode(e), Buffer.byteLength(e.target, 'utf8'), '-', `${e.name} -> ${e.target}`].join('\t');
  return [mode(e), e.size, e.digest, e.name].join('\t');
}

/** Runs `eos store ls`. @throws DigestError E2; NotFoundError E4; E3/E5/E8 for a damaged tree */
export async function run(opts: StoreLsOptions): Promise<CommandResult> {
  const d = parseDigest(opts.digest, 'DIGEST');
  const store = new Store(opts.store);
  if (!(await store.hasTree(d)) && (await store.hasBlob(d)))
    throw new NotFoundError(`${d} is a blob, not a tree`, { data: { digest: d }, hint: 'use eos store cat' });
  const tree = await store.getTree(d);
  return {
    lines: tree.entries.map(formatEntry),
    json: { version: 1, digest: d, entries: tree.entries },
  };
}
