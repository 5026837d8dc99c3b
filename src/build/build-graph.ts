/**
 * The build graph of a lock (I/O): every atom the lock names, read into a node the scheduler can
 * order and the executor can build. Workspace atoms come from their directories; published atoms
 * from their set's repository at the set commit the lock records, their `content/` tree written
 * to a staging directory through `atoms/`'s reader (so a damaged repository is a named error).
 * Each set repository is opened once. Atoms without `[build]` (a workspace root that only groups
 * dependencies) are not actions. An atom with `[fetch]` carries its `fetch.lock` (read once, here)
 * and becomes two actions in the scheduler's graph (`withFetchActions`): `LABEL.fetch`, the
 * replayed fetch, and `LABEL`, the build over its fetch tree.
 *
 * @see specs/lock.md, specs/scheduler.md §10, specs/fetch.md §7.1
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  exportAtomContent,
  localPathOf,
  openRepo,
  parseLock,
  parseManifest,
  readLockFileText,
  readPublishTree,
  readSetState,
  type AtomRepo,
  type AtomSetState,
  type Manifest,
} from '../../atoms/index.ts';
import { loadRecipe, parseSourceSpec, recipeEnv, type SourceSpec } from '../../executor/index.ts';
import type { SchedNode } from '../../scheduler/index.ts';
import {
  BuildClosureError,
  FetchNotRecordedError,
  LockError,
  digestBytes,
  NO_STAT_MEMO,
  digestPath,
  memoDerived,
  readFileBounded,
  type StatMemo,
  type Digest,
} from '../kernel/index.ts';

/**
 * The recorded fetch of an atom with `[fetch]`: its `fetch.lock` as read when the graph was loaded
 * (the fetch action parses these very bytes, so a malformed lock fails that action with E54).
 * @see specs/fetch.md §7.1
 */
export interface FetchInfo {
  /** The fetch action's label in the graph: `LABEL.fetch`. */
  label: string;
  /** `DIR/fetch.lock`. */
  file: string;
  bytes: Uint8Array;
  /** blake3 of `bytes` (`blake3:<64 hex>`), in the fetch action's key. */
  digest: Digest;
}

/** One action of a lock: the scheduler's node plus what the executor needs. */
export interface BuildNode extends SchedNode {
  deps: string[];
  version: string;
  /** The atom's content digest (the store tree digest of its directory). */
  content: Digest;
  manifest: Manifest & { build: NonNullable<Manifest['build']> };
  /** The atom's directory (workspace) or its exported content (published). */
  dir: string;
  /** The store tree digest of `dir`. */
  dirDigest: Digest;
  /** Present when the atom has `[fetch]`. */
  fetch?: FetchInfo;
  /** Where the atom came from, for messages: `workspace` or the set's name. */
  origin?: string;
}

/** The replayed fetch of an atom with `[fetch]`, an action of its own (specs/fetch.md §7.1). */
export interface FetchNode extends SchedNode {
  kind: 'fetch';
  /** `LABEL.fetch`. */
  label: string;
  /** The atom's dependencies (its world is the atom's world). */
  deps: string[];
  /** The atom whose fetch this is. */
  atom: BuildNode & { fetch: FetchInfo };
}

/** A node of the scheduler's graph of a lock: an atom's build, or an atom's fetch. */
export type LockNode = BuildNode | FetchNode;

/** True for a fetch action's node. */
export function isFetchNode(n: LockNode): n is FetchNode {
  return (n as FetchNode).kind === 'fetch';
}

/** The label of the fetch action of atom `label` in the graph: `LABEL.fetch`. @see specs/fetch.md §7.1 */
export function fetchLabel(label: string): string {
  return `${label}.fetch`;
}

/**
 * The scheduler's graph of a lock's build nodes: each atom with `[fetch]` gets a fetch node
 * `LABEL.fetch` (depending on the atom's dependencies), and its build node depends on that too, so
 * the build's action key covers the fetch tree (its output). Other nodes are returned as they are.
 * @throws BuildClosureError E7 when an atom of the lock is itself labelled like a fetch node
 * @see specs/fetch.md §7.1
 */
export function withFetchActions(nodes: readonly BuildNode[]): LockNode[] {
  const labels = new Set(nodes.map((n) => n.label));
  const out: LockNode[] = [];
  for (const n of nodes) {
    if (!n.fetch) {
      out.push(n);
      continue;
    }
    const f = n.fetch;
    if (labels.has(f.label))
      throw new BuildClosureError(
        `${n.label} has [fetch], and its fetch action's label ${f.label} is an atom of the lock`,
        {
          data: { label: n.label, fetch: f.label },
        },
      );
    out.push({ kind: 'fetch', label: f.label, deps: [...n.deps], atom: { ...n, fetch: f } });
    out.push({ ...n, deps: [...n.deps, f.label] });
  }
  return out;
}

/**
 * Reads `DIR/fetch.lock` of an atom with `[fetch]`.
 * @throws FetchNotRecordedError E62 when there is none
 */
async function readFetchInfo(n: {
  label: string;
  version: string;
  dir: string;
  origin: string;
}): Promise<FetchInfo> {
  const file = join(n.dir, 'fetch.lock');
  if (!existsSync(file))
    throw new FetchNotRecordedError(
      n.origin === 'workspace'
        ? `${n.label} ${n.version}: [fetch] but no fetch.lock in ${n.dir}; record it: eos fetch ${n.dir} --record`
        : `${n.label} ${n.version} (set ${n.origin}): [fetch] but no fetch.lock in the published atom; record it in its directory (eos fetch DIR --record) and publish it again`,
      {
        data: { label: n.label, version: n.version, file },
        hint: 'eos fetch DIR --record runs the [fetch] script once with the network, through the recording proxy (specs/fetch.md §7)',
      },
    );
  const bytes = await readFileBounded(file, { what: 'fetch lock' });
  return { label: fetchLabel(n.label), file, bytes, digest: digestBytes(bytes) };
}

/**
 * The sources of a manifest in the executor's form (validated again by the executor's parser).
 * @throws SourceError as `parseSourceSpec`
 */
export function executorSources(m: Manifest, who: string): SourceSpec[] {
  return m.source.map((s, i) => parseSourceSpec(s, `${who}: source[${i}]`));
}

/** A set repository, opened once, with its state at the locked commit. */
interface OpenedSet {
  repo: AtomRepo;
  state: AtomSetState;
}

/**
 * Reads the lock at `lockPath` and every atom it names into build nodes, checking everything a
 * build can check before it runs: the lock, every manifest, the locked publish records and
 * content digests, recipes and their arguments, sources.
 * @param staging an existing directory that receives the content of published atoms
 *   (`<label>@<version>/`); the caller removes it
 * @throws LockError E19 (unreadable or stale lock), ManifestError E16, BuildClosureError E7 (an
 *   action depending on an atom without a recipe, an unknown recipe or argument), AtomError E20
 *   (a missing or damaged set repository object, a content digest other than the locked one),
 *   NotFoundError E4 (no repository, or the set commit is not in it)
 */
export async function loadBuildGraph(
  lockPath: string,
  staging: string,
  memo: StatMemo = NO_STAT_MEMO,
): Promise<BuildNode[]> {
  const lock = await memoDerived(memo, 'lock', resolve(lockPath), () => {
    let text: string;
    try {
      text = readLockFileText(lockPath);
    } catch (e) {
      if (e instanceof LockError) throw e;
      throw new LockError(`${lockPath}: cannot read the lock (${(e as NodeJS.ErrnoException).code})`, {
        data: { file: lockPath },
        hint: 'run `eos lock` in the workspace first',
      });
    }
    return parseLock(text, lockPath);
  });
  const root = dirname(lockPath);
  const all: (Omit<BuildNode, 'manifest'> & { manifest: Manifest })[] = [];
  for (const [label, w] of Object.entries(lock.workspace)) {
    const dir = resolve(root, w.path);
    const file = join(dir, 'atom.toml');
    const manifest = await memoDerived(memo, 'manifest', file, async () =>
      parseManifest((await readFileBounded(file, { what: 'atom manifest' })).toString('utf8'), file),
    );
    if (manifest.atom.label !== label)
      throw new LockError(`${lockPath}: workspace.${label}: ${file} declares ${manifest.atom.label}`, {
        data: { label },
        hint: 'run `eos lock` again',
      });
    // In memory, no throwaway store: an atom directory is a few small files (specs/store.md §6);
    // files unchanged since a run that read them are not read again (specs/scheduler.md §11.6).
    const { digest } = digestPath(dir, undefined, memo);
    all.push({
      label,
      deps: w.deps,
      version: w.version,
      content: digest,
      manifest,
      dir,
      dirDigest: digest,
      origin: 'workspace',
    });
  }
  const sets = new Map<string, OpenedSet>();
  for (const [label, a] of Object.entries(lock.atoms)) {
    const set = lock.sets[a.set]!;
    let opened = sets.get(a.set);
    if (!opened) {
      const repo = await openRepo(localPathOf(set.url, root));
      opened = { repo, state: await readSetState(repo, set.commit) };
      sets.set(a.set, opened);
    }
    const listed = opened.state.atoms.find((x) => x.label === label && x.version === a.version);
    if (!listed)
      throw new LockError(
        `${lockPath}: atoms.${label}: ${a.version} is not in set ${a.set} at ${set.commit}`,
        {
          data: { label },
        },
      );
    const who = `${label}@${a.version}`;
    const pub = await readPublishTree(opened.repo, listed.tree, who);
    if (pub.digest !== a.record)
      throw new LockError(
        `${lockPath}: atoms.${label}: publish record ${pub.digest} is not the locked ${a.record}`,
        {
          data: { label },
        },
      );
    // The lock's content must be the one the signed record names (a tree rewritten in git
    // without a new signature matches neither; `eos lock --check` says the same).
    if (pub.record.content !== a.content)
      throw new LockError(
        `${lockPath}: atoms.${label}: the lock pins content ${a.content}, but the publish record ${a.record} names ${pub.record.content}`,
        { data: { label }, hint: 'run `eos lock --check` to see why; do not build from this lock' },
      );
    const manifest = parseManifest(pub.manifestText, `${who}/atom.toml`);
    const dir = join(staging, who);
    const { digest } = await exportAtomContent(opened.repo, listed.tree, dir, a.content, who);
    all.push({
      label,
      deps: a.deps,
      version: a.version,
      content: a.content,
      manifest,
      dir,
      dirDigest: digest,
      origin: a.set,
    });
  }
  const withBuild = new Set(all.filter((n) => n.manifest.build).map((n) => n.label));
  const nodes: BuildNode[] = [];
  for (const n of all) {
    if (!n.manifest.build) continue;
    for (const d of n.deps)
      if (!withBuild.has(d) && all.some((x) => x.label === d))
        throw new BuildClosureError(`${n.label} depends on ${d}, which has no recipe`, {
          data: { label: n.label, dep: d },
        });
    loadRecipe(n.manifest.build.recipe); // E7 for an unknown recipe, before anything runs
    recipeEnv(n.manifest.build.args); // E7 for arguments the recipe cannot take
    executorSources(n.manifest, n.label);
    // E62 before anything runs: an atom with [fetch] builds only over a recorded fetch.
    if (n.manifest.fetch) n.fetch = await readFetchInfo({ ...n, origin: n.origin ?? 'workspace' });
    nodes.push(n as BuildNode);
  }
  return nodes;
}
