/**
 * Interface manifests of trees in the content-addressed store, and their cache. A stored tree is
 * walked through the store's tree objects; each file blob that can hold an ELF header is read and
 * decoded once per blob digest (identical files in a tree are decoded once). Manifests are cached
 * in the filesystem store under `cache/interface/<2 hex>/<62 hex>` of the cache key
 * `digestCanonical({kind: "eos.interface-cache-key", version: 1, extractor, tree})`, written
 * through a temp file, fsync and rename, and re-validated when read.
 * @see specs/interface.md §1.2, §3.2
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  digestCanonical,
  digestHex,
  encodeCanonical,
  EncodingError,
  isDigest,
  Store,
  writeFileAtomicSync,
  type Digest,
  type ObjectStore,
} from '../../src/kernel/index.ts';
import { readInterfaceManifest } from './elf-read-tree.ts';
import { isElf, parseElf, type ElfFile } from '../elf/parse-elf.ts';
import {
  assembleManifest,
  EXTRACTOR_IDENTITY,
  interfaceOfElf,
  parseInterfaceManifest,
  type ElfFileInterface,
  type InterfaceManifest,
} from './interface-manifest.ts';

/** The smallest file that can hold an ELF identification (e_ident is 16 bytes). */
const MIN_ELF_BYTES = 16;

/**
 * The cache key of a tree's interface manifest: it changes with the extractor identity.
 * @see specs/interface.md §1.2
 */
export function interfaceCacheKey(tree: Digest): Digest {
  return digestCanonical({
    kind: 'eos.interface-cache-key',
    version: 1,
    extractor: { ...EXTRACTOR_IDENTITY },
    tree,
  });
}

/**
 * Builds the interface manifest of a stored tree (paths relative to that tree). Symbolic links are
 * not followed, as on disk (§3.2).
 * @throws NotFoundError E4 when the tree or a blob is absent; CorruptObjectError E5; ElfFormatError E15
 * @see specs/interface.md §3.2
 */
export async function storedInterfaceManifest(store: ObjectStore, tree: Digest): Promise<InterfaceManifest> {
  const decoded = new Map<Digest, ElfFile | null>();
  const parts: ElfFileInterface[] = [];
  const walk = async (d: Digest, prefix: string): Promise<void> => {
    const t = await store.trees.get(d);
    for (const e of t.entries) {
      const path = prefix === '' ? e.name : `${prefix}/${e.name}`;
      if (e.kind === 'directory') await walk(e.digest, path);
      else if (e.kind === 'file' && e.size >= MIN_ELF_BYTES) {
        let elf = decoded.get(e.digest);
        if (elf === undefined) {
          const bytes = await store.blobs.get(e.digest);
          elf = isElf(bytes) ? parseElf(bytes, path) : null;
          decoded.set(e.digest, elf);
        }
        if (elf) parts.push(interfaceOfElf(path, elf));
      }
    }
  };
  await walk(tree, '');
  return assembleManifest(parts);
}

/**
 * The interface manifest of a stored tree, from the store's cache when present, else computed and
 * cached (atomically: temp file, fsync, rename).
 * @throws NotFoundError E4, CorruptObjectError E5, ElfFormatError E15, IoError E12 (cache write)
 * @see specs/interface.md §1.2
 */
export async function cachedInterfaceManifest(store: Store, tree: Digest): Promise<InterfaceManifest> {
  const hex = digestHex(interfaceCacheKey(tree));
  const dir = join(store.root, 'cache', 'interface', hex.slice(0, 2));
  const file = join(dir, hex.slice(2));
  let bytes: Uint8Array | undefined;
  try {
    bytes = readFileSync(file);
  } catch {
    bytes = undefined;
  }
  if (bytes) {
    try {
      return parseInterfaceManifest(bytes, `cached interface manifest ${file}`);
    } catch (e) {
      if (!(e instanceof EncodingError)) throw e; // a damaged cache entry is recomputed and replaced
    }
  }
  const m = await storedInterfaceManifest(store, tree);
  const out = encodeCanonical(m);
  writeFileAtomicSync(file, out, { mode: 0o444, mkdir: true });
  return m;
}

/**
 * The manifest named by a command-line argument: a tree digest (`blake3:…`) read from the store at
 * `storeDir` (through the cache), or a file or directory on disk.
 * @throws NotFoundError E4, CorruptObjectError E5, IoError E12, ElfFormatError E15
 */
export async function interfaceManifestOf(
  pathOrDigest: string,
  storeDir: string,
): Promise<InterfaceManifest> {
  if (!isDigest(pathOrDigest)) return readInterfaceManifest(pathOrDigest);
  return cachedInterfaceManifest(new Store(storeDir), pathOrDigest);
}
