/**
 * The build graph of a lock (I/O): every atom the lock names, read into a node the scheduler can
 * order and the executor can build. Workspace atoms come from their directories; published atoms
 * from their set's repository at the set commit the lock records, their `content/` tree written
 * to a staging directory through `atoms/`'s reader (so a damaged repository is a named error).
 * Each set repository is opened once. Atoms without `[build]` (a workspace root that only groups
 * dependencies) are not actions.
 *
 * @see specs/lock.md, specs/scheduler.md §10
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  exportAtomContent,
  localPathOf,
  openRepo,
  parseLock,
  parseManifest,
  readPublishTree,
  readSetState,
  type AtomRepo,
  type AtomSetState,
  type Manifest,
} from '../../atoms/index.ts';
import { loadRecipe, parseSourceSpec, recipeEnv, type SourceSpec } from '../../executor/index.ts';
import type { SchedNode } from '../../scheduler/index.ts';
import { BuildClosureError, LockError, probeDigest, readFileBounded, type Digest } from '../kernel/index.ts';

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
export async function loadBuildGraph(lockPath: string, staging: string): Promise<BuildNode[]> {
  let text: string;
  try {
    text = await readFile(lockPath, 'utf8');
  } catch (e) {
    throw new LockError(`${lockPath}: cannot read the lock (${(e as NodeJS.ErrnoException).code})`, {
      data: { file: lockPath },
      hint: 'run `eos lock` in the workspace first',
    });
  }
  const root = dirname(lockPath);
  const lock = parseLock(text, lockPath);
  const all: (Omit<BuildNode, 'manifest'> & { manifest: Manifest })[] = [];
  for (const [label, w] of Object.entries(lock.workspace)) {
    const dir = resolve(root, w.path);
    const file = join(dir, 'atom.toml');
    const manifest = parseManifest(
      (await readFileBounded(file, { what: 'atom manifest' })).toString('utf8'),
      file,
    );
    if (manifest.atom.label !== label)
      throw new LockError(`${lockPath}: workspace.${label}: ${file} declares ${manifest.atom.label}`, {
        data: { label },
        hint: 'run `eos lock` again',
      });
    const digest = await probeDigest(dir);
    all.push({ label, deps: w.deps, version: w.version, content: digest, manifest, dir, dirDigest: digest });
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
    nodes.push(n as BuildNode);
  }
  return nodes;
}
