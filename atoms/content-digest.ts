/**
 * The content digest of an atom: the store's tree digest (specs/store.md §3) of a git subtree,
 * computed from git's tree and blob objects alone (no checkout), so anyone holding the repository
 * can check it.
 *
 * Mapping of git tree entries: mode `100644` → file (executable false), `100755` → file
 * (executable true), `120000` → symlink (target = the blob's bytes as UTF-8), `040000` →
 * directory. Submodules (`160000`) cannot be part of an atom. A tree is the canonical JSON of
 * `{"entries": [...], "version": 1}`, entries sorted by the UTF-8 bytes of their names; a file entry
 * is `{name, kind: "file", digest, size, executable}`, a directory `{name, kind: "directory",
 * digest, size}` with `size` = its entry count plus the sizes of its subdirectories, a symlink
 * `{name, kind: "symlink", target}`; the digest is BLAKE3 of those bytes.
 *
 * Trees are built with the store's `makeTree`/`treeDigest`, so the digest is the one `eos store add`
 * gives for a checkout of the same subtree. The reader is injected (`GitObjectReader`), so this module does no I/O of its own.
 *
 * @see specs/atom.md §9.4, specs/store.md §3
 */
import {
  AtomError,
  digestBytes,
  makeTree,
  subtreeSize,
  treeDigest,
  type Digest,
  type ObjectStore,
  type TreeEntry,
} from '../src/kernel/index.ts';

/** One entry of a git tree object. */
export interface GitTreeEntry {
  mode: string;
  path: string;
  oid: string;
  type: 'blob' | 'tree' | 'commit';
}

/** Reads git objects by id. */
export interface GitObjectReader {
  readTree(oid: string): Promise<GitTreeEntry[]>;
  readBlob(oid: string): Promise<Uint8Array>;
}

/** The result for one directory: its tree digest and the `size` its parent entry carries. */
export interface ContentDigest {
  digest: Digest;
  /** Entries in the tree plus, recursively, the sizes of its subdirectories. */
  size: number;
  /** Files in the subtree (for reports). */
  files: number;
}

/**
 * Computes the store tree digest of the git tree `oid`.
 * @param reader reads git objects
 * @param oid a git tree id
 * @param where names the subject in errors (e.g. `curl@7.88.1 content`)
 * @throws AtomError E20 for a submodule, an unknown mode, or a symlink target that is not UTF-8
 */
export async function contentDigestOfGitTree(
  reader: GitObjectReader,
  oid: string,
  where = 'tree',
  memo: Map<string, ContentDigest> = new Map(),
): Promise<ContentDigest> {
  return walk(reader, oid, where, memo, undefined);
}

/**
 * Copies the git tree `oid` into a store (blobs, then trees, children first) and returns its
 * content digest, which is the one `contentDigestOfGitTree` computes: how the scheduler and the
 * executor get an atom's source into the store straight from the set's git objects.
 * @throws AtomError E20 as `contentDigestOfGitTree`; the store's errors when a write fails
 */
export async function putGitTree(
  reader: GitObjectReader,
  oid: string,
  store: ObjectStore,
  where = 'tree',
): Promise<ContentDigest> {
  return walk(reader, oid, where, new Map(), store);
}

async function walk(
  reader: GitObjectReader,
  oid: string,
  where: string,
  memo: Map<string, ContentDigest>,
  store: ObjectStore | undefined,
): Promise<ContentDigest> {
  const hit = memo.get(oid);
  if (hit) return hit;
  const entries: TreeEntry[] = [];
  let files = 0;
  for (const e of await reader.readTree(oid)) {
    const at = `${where}/${e.path}`;
    if (e.mode === '040000' || e.mode === '40000') {
      const sub = await walk(reader, e.oid, at, memo, store);
      entries.push({ name: e.path, kind: 'directory', digest: sub.digest, size: sub.size });
      files += sub.files;
    } else if (e.mode === '100644' || e.mode === '100755') {
      const bytes = await reader.readBlob(e.oid);
      const digest = store ? await store.blobs.put(bytes) : digestBytes(bytes);
      entries.push({
        name: e.path,
        kind: 'file',
        digest,
        size: bytes.length,
        executable: e.mode === '100755',
      });
      files++;
    } else if (e.mode === '120000') {
      const bytes = await reader.readBlob(e.oid);
      let target: string;
      try {
        target = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        throw new AtomError(`${at}: symlink target is not UTF-8`, { data: { path: at } });
      }
      entries.push({ name: e.path, kind: 'symlink', target });
    } else if (e.mode === '160000') {
      throw new AtomError(`${at}: submodules cannot be part of an atom`, { data: { path: at } });
    } else {
      throw new AtomError(`${at}: git mode ${e.mode} is not supported`, { data: { path: at, mode: e.mode } });
    }
  }
  // The store's own tree constructor: the same validation, order and encoding as ingest.
  const tree = makeTree(entries, where);
  const digest = store ? await store.trees.put(tree) : treeDigest(tree);
  const out = { digest, size: subtreeSize(tree), files };
  memo.set(oid, out);
  return out;
}
