/**
 * The tree digest a path would have in the store, without touching a real store: it is ingested
 * into a throwaway store (objects not fsynced) that is removed afterwards. Used where a digest is
 * needed before anything may be stored: a fetched source checked against its pin, an atom's
 * directory hashed for its action key.
 *
 * @see specs/store.md §3
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Digest } from '../digest.ts';
import { Store } from './fs-store.ts';

/**
 * The store digest of the file or directory at `path` (a tree digest for a directory).
 * @param scratch a directory to hold the throwaway store (default: the OS temporary directory)
 * @throws IoError E12, UnsafePathError E8 as `Store.ingest`
 */
export async function probeDigest(path: string, scratch?: string): Promise<Digest> {
  const dir = await mkdtemp(join(scratch ?? tmpdir(), 'eos-probe-'));
  try {
    return (await new Store(dir, { durable: false }).ingest(path, { fsync: false })).digest;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
