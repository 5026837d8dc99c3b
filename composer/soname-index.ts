/**
 * The soname index of a composition: for each entry, the sonames its ELF files provide and need,
 * and whether any of them imports `dlopen`. A swap reads it to find the entries that can consume
 * the replaced one (their needs reach its sonames, directly or through other entries' shared
 * objects) and then reads only those entries' interface manifests, so its cost follows the
 * consumers, not the number of entries in the composition.
 *
 * Stored once per composition: a canonical JSON blob (content-addressed) and a pointer file
 * `cache/soname-index/<composition root hex>` holding the blob's digest. A swap derives the new
 * composition's index from the old one (one entry's line replaced), so only the first swap from a
 * composition whose index was never stored reads every entry's manifest. The pointer is a cache:
 * a missing, unreadable or mismatching one (another composition's, a damaged blob) is rebuilt.
 *
 * I/O: reads and writes the store.
 *
 * @see specs/interface.md §11.6
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { z } from 'zod';
import {
  EncodingError,
  NotFoundError,
  digestHex,
  encodeCanonical,
  isDigest,
  lazySchemas,
  parseCanonicalWith,
  writeFileAtomicSync,
  type Digest,
  type Store,
} from '../src/kernel/index.ts';
import {
  assembleManifest,
  cachedInterfaceManifest,
  interfaceOfElf,
  isElf,
  parseElf,
  type FileRequirements,
  type InterfaceManifest,
} from '../extractors/index.ts';
import { compositionRoot, entryNames, nodeDigest, type Composition, type EntryNode } from './composition.ts';

/** The `format` of a soname index. */
export const SONAME_INDEX_FORMAT = 'eos.soname-index';
/** Its version. */
export const SONAME_INDEX_VERSION = 1;

/** The index's zod schemas, made on first use (src/kernel/lazy-modules.ts). */
const schemas = lazySchemas((z) => {
  const digestSchema = z.string().refine(isDigest, 'not a digest (blake3:<64 hex>)');
  const sortedStrings = z.array(z.string());

  const indexEntrySchema = z
    .object({
      /** The entry's node digest and prefix (what the line was computed for). */
      node: digestSchema,
      at: z.string(),
      /** Sonames (else file names) of its shared objects, sorted, unique. */
      provides: sortedStrings,
      /** The union of its ELF files' DT_NEEDED, sorted, unique. */
      needs: sortedStrings,
      /** Whether any of its ELF files imports `dlopen`. */
      dlopen: z.boolean(),
    })
    .strict();

  const indexSchema = z
    .object({
      format: z.literal(SONAME_INDEX_FORMAT),
      version: z.literal(SONAME_INDEX_VERSION),
      /** The composition it indexes. */
      composition: digestSchema,
      entries: z.record(z.string(), indexEntrySchema),
    })
    .strict();
  return { entry: indexEntrySchema, index: indexSchema };
});

/** One entry's line of the index. @see specs/interface.md §11.6 */
export type SonameIndexEntry = z.infer<ReturnType<typeof schemas>['entry']>;
/** A composition's soname index. @see specs/interface.md §11.6 */
export type SonameIndex = z.infer<ReturnType<typeof schemas>['index']>;

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort(byCodeUnits);

/** The name a loader matches DT_NEEDED against: the soname, else the file name. */
export const sonameOf = (o: { soname: string | null; path: string }): string => o.soname ?? basename(o.path);

/** Does this file import `dlopen` (any version, from any soname)? */
export function importsDlopen(r: FileRequirements): boolean {
  const hit = (xs: readonly string[]) => xs.some((s) => s === 'dlopen' || s.startsWith('dlopen@'));
  return (
    hit(r.unversioned) ||
    hit(r.weakUnversioned) ||
    Object.values(r.symbols).some(hit) ||
    Object.values(r.weakSymbols).some(hit)
  );
}

/**
 * The interface manifest of an entry's node (a tree through the store's cache; a file node as a
 * one-file tree named by the base name of its prefix). Symlink nodes provide nothing.
 * @throws NotFoundError E4, ElfFormatError E15
 */
export async function nodeManifest(store: Store, node: EntryNode, at: string): Promise<InterfaceManifest> {
  if (node.kind === 'tree') return cachedInterfaceManifest(store, node.digest);
  if (node.kind === 'symlink') return assembleManifest([]);
  const bytes = await store.blobs.get(node.digest);
  if (!isElf(bytes)) return assembleManifest([]);
  const name = basename(at);
  return assembleManifest([interfaceOfElf(name, parseElf(bytes, name))]);
}

/** An entry's index line from its manifest. */
export function indexLine(node: EntryNode, at: string, m: InterfaceManifest): SonameIndexEntry {
  return {
    node: nodeDigest(node),
    at,
    provides: sorted(m.provides.sharedObjects.map(sonameOf)),
    needs: sorted(m.requires.flatMap((r) => r.needed)),
    dlopen: m.requires.some(importsDlopen),
  };
}

function pointerPath(store: Store, root: Digest): string {
  const hex = digestHex(root);
  return join(store.root, 'cache', 'soname-index', hex.slice(0, 2), hex.slice(2));
}

/** Whether an index's lines are exactly this composition's entries (names, nodes, prefixes). */
function matches(ix: SonameIndex, c: Composition): boolean {
  const names = entryNames(c);
  if (Object.keys(ix.entries).length !== names.length) return false;
  return names.every((n) => {
    const l = ix.entries[n];
    const e = c.entries[n]!;
    return l !== undefined && l.node === nodeDigest(e.node) && l.at === e.at;
  });
}

/** The stored index of a composition, or undefined when none is stored (or it does not match). */
async function readIndex(store: Store, c: Composition, root: Digest): Promise<SonameIndex | undefined> {
  let ptr: string;
  try {
    ptr = readFileSync(pointerPath(store, root), 'utf8').trim();
  } catch {
    return undefined;
  }
  if (!isDigest(ptr) || !(await store.hasBlob(ptr))) return undefined;
  try {
    const ix = parseCanonicalWith(
      schemas().index,
      await store.readBlob(ptr),
      `soname index ${ptr}`,
      EncodingError,
    );
    return ix.composition === root && matches(ix, c) ? ix : undefined;
  } catch (e) {
    if (e instanceof EncodingError || e instanceof NotFoundError) return undefined;
    throw e;
  }
}

/**
 * Stores `entries` as the index of composition `c`: the blob, then the pointer (atomically).
 * @returns the index blob's digest
 */
export async function storeSonameIndex(
  store: Store,
  c: Composition,
  entries: Record<string, SonameIndexEntry>,
): Promise<Digest> {
  const root = compositionRoot(c);
  const ix: SonameIndex = {
    format: SONAME_INDEX_FORMAT,
    version: SONAME_INDEX_VERSION,
    composition: root,
    entries: Object.fromEntries(entryNames(c).map((n) => [n, entries[n]!])),
  };
  if (!matches(ix, c)) throw new Error('unreachable: soname index lines do not match the composition');
  const d = await store.putBlob(encodeCanonical(ix));
  writeFileAtomicSync(pointerPath(store, root), `${d}\n`, { mkdir: true });
  return d;
}

/**
 * The soname index of composition `c`: the stored one, else built and stored: each entry's line
 * taken from `near` (another composition's index, e.g. the one a swap started from) when its node
 * and prefix are the same there, else from the entry's interface manifest.
 * @throws NotFoundError E4, ElfFormatError E15 (building it)
 */
export async function sonameIndex(store: Store, c: Composition, near?: SonameIndex): Promise<SonameIndex> {
  const root = compositionRoot(c);
  const found = await readIndex(store, c, root);
  if (found) return found;
  const entries: Record<string, SonameIndexEntry> = {};
  for (const n of entryNames(c)) {
    const e = c.entries[n]!;
    const l = near?.entries[n];
    entries[n] =
      l && l.node === nodeDigest(e.node) && l.at === e.at
        ? l
        : indexLine(e.node, e.at, await nodeManifest(store, e.node, e.at));
  }
  await storeSonameIndex(store, c, entries);
  return { format: SONAME_INDEX_FORMAT, version: SONAME_INDEX_VERSION, composition: root, entries };
}

/**
 * The entries other than `name` that may hold a consumer of `sonames` (the entry's own): those
 * whose needs reach them, directly or through the provided sonames of entries reached before
 * (a superset of the files that can load the entry), and those with a `dlopen` user.
 * @returns entry names, sorted
 */
export function candidateEntries(ix: SonameIndex, name: string, sonames: ReadonlySet<string>): string[] {
  const reach = new Set(sonames);
  const lines = Object.entries(ix.entries).filter(([n]) => n !== name);
  const hit = new Set<string>();
  for (let grew = true; grew;) {
    grew = false;
    for (const [n, l] of lines)
      if (!hit.has(n) && l.needs.some((s) => reach.has(s))) {
        hit.add(n);
        grew = true;
        for (const s of l.provides) reach.add(s);
      }
  }
  for (const [n, l] of lines) if (l.dlopen) hit.add(n);
  return [...hit].sort(byCodeUnits);
}
