/**
 * `eos lock` (I/O): finds the workspace's `atom.toml` files, reads the atom sets at their set
 * commits, resolves, verifies the chosen atoms and writes `eos.lock` atomically; `--check` verifies
 * an existing lock against the workspace and the set commits it records.
 *
 * @see specs/lock.md §8
 */
import { closeSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import {
  AtomError,
  EosError,
  LockError,
  configDir,
  openInputSync,
  writeFileAtomicSync,
  type ObjectStore,
} from '../src/kernel/index.ts';
import { checkLock, planLock, type SetAtom, type SetSnapshot, type WorkspaceAtom } from './lock-plan.ts';
import { encodeLock, parseLock, type Lock, type LockAtom } from './lock-file.ts';
import { parseManifest, type Manifest } from './atom-manifest.ts';
import {
  localPathOf,
  openRepo,
  readPublishTree,
  readSetState,
  type SetProblem,
  verifyPublishTree,
  fetchSetRepo,
  isRemoteLocation,
  putAtomContent,
  type AtomRepo,
} from './repo.ts';
import type { ResolveStats } from './resolve.ts';
import type { ContentDigest } from './content-digest.ts';
import type { AtomVerifier } from './signing.ts';

/** The lock's file name at the workspace root. */
export const LOCK_FILE = 'eos.lock';

/**
 * Finds and parses every `atom.toml` under `root` (skipping hidden directories and
 * `node_modules`), in path order.
 * @throws ManifestError E16 for an invalid manifest (named by its path relative to root)
 */
export function readWorkspace(root: string): WorkspaceAtom[] {
  const out: WorkspaceAtom[] = [];
  const walk = (dir: string): void => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules') walk(join(dir, e.name));
      else if (e.isFile() && e.name === 'atom.toml') {
        const rel = relative(root, dir).split(sep).join('/') || '.';
        const file = rel === '.' ? 'atom.toml' : `${rel}/atom.toml`;
        const m = parseManifest(readFileSync(join(dir, e.name), 'utf8'), file);
        out.push({ label: m.atom.label, version: m.atom.version, path: rel, deps: m.deps });
      }
    }
  };
  walk(root);
  return out;
}

/** An opened set: its snapshot and where to find each publish tree. */
interface OpenedSet {
  snapshot: SetSnapshot;
  repo: AtomRepo;
  trees: Map<string, string>;
  claims: Map<string, string>;
  /** Atoms of the set that cannot be read, named `label@version in set NAME: …` (see {@link neededProblems}). */
  problems: SetProblem[];
}

/** Where fetched (HTTP) sets are cached by default: `<config>/sets`. */
export function defaultSetCache(): string {
  return join(configDir(), 'sets');
}

/** Reads a set's atoms at its current set commit (or at `commit`); HTTP sets are fetched first. */
async function openSet(
  name: string,
  url: string,
  root: string,
  cacheDir: string,
  commit?: string,
): Promise<OpenedSet> {
  let repo: AtomRepo;
  try {
    repo = isRemoteLocation(url) ? await fetchSetRepo(url, cacheDir) : await openRepo(localPathOf(url, root));
  } catch (e) {
    if (e instanceof EosError)
      throw new LockError(`set ${name} (${url}): ${e.detail}`, { data: { set: name, url } });
    throw e;
  }
  let state;
  try {
    state = await readSetState(repo, commit);
  } catch (e) {
    if (e instanceof EosError)
      throw new LockError(`set ${name} (${url}): ${e.detail}`, { data: { set: name, url } });
    throw e;
  }
  const atoms: SetAtom[] = [];
  const trees = new Map<string, string>();
  const problems: SetProblem[] = state.problems.map((p) => ({
    ...p,
    detail: `${p.version === null ? p.label : `${p.label}@${p.version}`} in set ${name}: ${p.detail}`,
  }));
  for (const a of state.atoms) {
    const who = `${a.label}@${a.version} in set ${name}`;
    let p: Awaited<ReturnType<typeof readPublishTree>>;
    let m: ReturnType<typeof parseManifest>;
    try {
      p = await readPublishTree(repo, a.tree, who);
      m = parseManifest(p.manifestText, `${who}: atom.toml`);
    } catch (e) {
      // One malformed atom does not make the set unreadable: it is reported where it is needed.
      if (!(e instanceof EosError)) throw e;
      const detail = e.detail.includes(who) ? e.detail : `${who}: ${e.detail}`;
      problems.push({ label: a.label, version: a.version, detail });
      continue;
    }
    atoms.push({
      label: a.label,
      version: a.version,
      record: p.digest,
      content: p.record.content,
      deps: m.deps,
    });
    trees.set(`${a.label}@${a.version}`, a.tree);
  }
  return {
    snapshot: { name, url, commit: state.commit, atoms },
    repo,
    trees,
    claims: new Map(state.claims.map((c) => [c.label, c.tree])),
    problems,
  };
}

/**
 * Splits the sets' unreadable atoms into those a lock needs and the rest. A problem is needed
 * when its label is in `lock` (a malformed version could have been the one chosen), or, when
 * planning failed (`lock` undefined), when its label is a workspace atom or a dependency of one
 * or of any readable set atom (it may be what the resolution was missing).
 * @see specs/lock.md
 */
function neededProblems(
  sets: Iterable<OpenedSet>,
  workspace: readonly { label: string; deps: Record<string, unknown> }[],
  lock: Lock | undefined,
): { needed: SetProblem[]; unneeded: SetProblem[] } {
  const all = [...sets].flatMap((s) => s.problems);
  let wanted: Set<string>;
  if (lock) wanted = new Set(Object.keys(lock.atoms));
  else {
    wanted = new Set(workspace.flatMap((w) => [w.label, ...Object.keys(w.deps)]));
    for (const s of sets)
      for (const a of s.snapshot.atoms) for (const d of Object.keys(a.deps)) wanted.add(d);
  }
  return {
    needed: all.filter((p) => wanted.has(p.label)),
    unneeded: all.filter((p) => !wanted.has(p.label)),
  };
}

/** The error for needed unreadable atoms: every one named, with its set. */
function problemError(needed: SetProblem[]): LockError {
  return new LockError(
    needed.length === 1
      ? needed[0]!.detail
      : `${needed.length} atoms the lock needs cannot be read: ${needed.map((p) => p.detail).join('; ')}`,
    { data: { atoms: needed.map((p) => (p.version === null ? p.label : `${p.label}@${p.version}`)) } },
  );
}

/** The publish tree of a pinned atom; a pinned atom the set cannot read is named with its problem. */
function pinnedTree(s: OpenedSet, set: string, label: string, version: string): string {
  const tree = s.trees.get(`${label}@${version}`);
  if (tree) return tree;
  const p = s.problems.find((x) => x.label === label && (x.version === null || x.version === version));
  if (p) throw new LockError(`${LOCK_FILE}: pinned ${p.detail}`, { data: { label, version, set } });
  throw new LockError(`${LOCK_FILE}: set ${set} does not publish ${label}@${version}`);
}

/** Verifies every pinned atom against the set commit it came from (claims read from that commit). */
async function verifyPins(lock: Lock, sets: Map<string, OpenedSet>, verifier: AtomVerifier): Promise<void> {
  for (const [label, a] of Object.entries(lock.atoms)) {
    const s = sets.get(a.set)!;
    const tree = pinnedTree(s, a.set, label, a.version);
    const claimTree = s.claims.get(label);
    if (!claimTree)
      throw new LockError(`${LOCK_FILE}: set ${a.set} has no claim of ${label}`, { data: { label } });
    try {
      const v = await verifyPublishTree(s.repo, tree, { label, version: a.version }, verifier, { claimTree });
      if (v.digest !== a.record)
        throw new LockError(
          `${LOCK_FILE}: ${label}@${a.version}: record ${v.digest} is not the pinned ${a.record}`,
        );
    } catch (e) {
      if (e instanceof AtomError)
        throw new LockError(`${LOCK_FILE}: pinned ${e.detail} (set ${a.set})`, {
          data: { ...e.data, set: a.set },
          ...(e.hint ? { hint: e.hint } : {}),
        });
      throw e;
    }
  }
}

/** Options of `lockWorkspace`. */
export interface LockOptions {
  /** The workspace root (where `eos.lock` is). */
  root: string;
  /** Sets by name → URL; default: those of the existing lock. */
  sets?: Record<string, string>;
  /** Labels to re-resolve newest-first. */
  update?: string[];
  /** Let prereleases satisfy every range; default: as the existing lock says. */
  prerelease?: boolean;
  verifier: AtomVerifier;
  /** Where HTTP sets are fetched to (default `defaultSetCache()`). */
  cacheDir?: string;
}

/** What `lockWorkspace` did. */
export interface LockResult {
  lock: Lock;
  text: string;
  /** False when `eos.lock` already had exactly these bytes. */
  changed: boolean;
  stats: ResolveStats;
  /** Unreadable atoms of the sets that this lock does not need, each named with its set. */
  warnings: string[];
}

/** The bound on an eos.lock read whole: 64 MiB (a lock of 100,000 atoms is about 30 MB). */
export const LOCK_MAX_BYTES = 64 << 20;

/**
 * The text of the lock file at `path`: a regular file of at most {@link LOCK_MAX_BYTES} (a FIFO
 * would block a reader, and a SIGTERM'd command's clean-up behind it; /dev/zero never ends),
 * opened non-blocking ({@link openInputSync}) so a FIFO is refused at once.
 * @throws LockError E19 when it is not a regular file or is over the bound; the OS error as it is
 *   (ENOENT, EACCES: `code` set) when it cannot be read, for the caller to word
 * @see specs/lock.md
 */
export function readLockFileText(path: string): string {
  // Opened non-blocking and judged by fstat (specs/cli.md, bounded inputs): a FIFO is refused
  // without waiting for a writer, and what is read is what was judged.
  const notRegular = () =>
    new LockError(`${path}: the lock is not a regular file`, {
      data: { file: path },
      hint: 'give the eos.lock file that `eos lock` wrote',
    });
  let opened;
  try {
    opened = openInputSync(path);
  } catch (e) {
    // A socket cannot be opened (ENXIO): not a regular file either.
    if ((e as NodeJS.ErrnoException).code === 'ENXIO') throw notRegular();
    throw e;
  }
  const { fd, stats: st } = opened;
  try {
    if (!st.isFile()) throw notRegular();
    if (st.size > LOCK_MAX_BYTES)
      throw new LockError(`${path}: the lock is larger than ${LOCK_MAX_BYTES} bytes`, {
        data: { file: path },
      });
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** The workspace's eos.lock text, or undefined when it cannot be read (none yet). @throws LockError E19 */
function readLockText(root: string): string | undefined {
  try {
    return readLockFileText(join(root, LOCK_FILE));
  } catch (e) {
    if (e instanceof LockError) throw e;
    return undefined;
  }
}

function readExisting(root: string): Lock | undefined {
  const text = readLockText(root);
  return text === undefined ? undefined : parseLock(text, LOCK_FILE);
}

/**
 * Trust on first use (specs/lock.md §8): a label pinned at the same version as in the previous
 * lock must keep its record and content digests, unless the user released it with `--update`.
 * @throws LockError E19 naming the label, both records and both contents
 */
export function refuseRepublished(lock: Lock, previous: Lock | undefined, update: readonly string[]): void {
  if (!previous) return;
  const released = new Set(update);
  for (const [label, a] of Object.entries(lock.atoms)) {
    const p = previous.atoms[label];
    if (!p || released.has(label) || p.version !== a.version) continue;
    if (p.record === a.record && p.content === a.content) continue;
    throw new LockError(
      `${LOCK_FILE}: ${label}@${a.version} was published again with other bytes: the lock pins record ${p.record} (content ${p.content}), set ${a.set} now offers record ${a.record} (content ${a.content}); refusing to follow it`,
      {
        data: {
          label,
          version: a.version,
          pinnedRecord: p.record,
          pinnedContent: p.content,
          record: a.record,
          content: a.content,
        },
        hint: `if you trust the new publication, ask for it by name: eos lock --update ${label}`,
      },
    );
  }
}

/**
 * Creates or updates `eos.lock` for the workspace at `root`.
 * @throws ManifestError E16, ResolutionError E17, LockError E19 (a set that cannot be read, a pinned
 *   atom that fails verification, no sets given, a pinned label@version re-published with another
 *   record or content and not named by `update`)
 */
export async function lockWorkspace(opts: LockOptions): Promise<LockResult> {
  const previous = readExisting(opts.root);
  const setUrls =
    opts.sets ?? Object.fromEntries(Object.entries(previous?.sets ?? {}).map(([k, v]) => [k, v.url]));
  const workspace = readWorkspace(opts.root);
  if (workspace.length === 0)
    throw new LockError(`${opts.root}: no atom.toml in the workspace`, { data: { root: opts.root } });
  const opened = new Map<string, OpenedSet>();
  const cacheDir = opts.cacheDir ?? defaultSetCache();
  for (const name of Object.keys(setUrls).sort())
    opened.set(name, await openSet(name, setUrls[name]!, opts.root, cacheDir));
  for (const u of opts.update ?? [])
    if (!previous?.atoms[u] && !workspace.some((w) => w.label === u))
      throw new LockError(`${LOCK_FILE}: --update ${u}: ${u} is not in the lock`, { data: { label: u } });
  let planned: ReturnType<typeof planLock>;
  try {
    planned = planLock({
      workspace,
      sets: [...opened.values()].map((s) => s.snapshot),
      ...(previous ? { previous } : {}),
      update: opts.update ?? [],
      prerelease: opts.prerelease ?? previous?.prerelease ?? false,
    });
  } catch (e) {
    const { needed } = neededProblems(opened.values(), workspace, undefined);
    if (needed.length > 0 && e instanceof EosError) throw problemError(needed);
    throw e;
  }
  const { lock, stats } = planned;
  const { needed, unneeded } = neededProblems(opened.values(), workspace, lock);
  if (needed.length > 0) throw problemError(needed);
  refuseRepublished(lock, previous, opts.update ?? []);
  await verifyPins(lock, opened, opts.verifier);
  const text = encodeLock(lock);
  const old = readLockText(opts.root);
  if (old !== text) writeFileAtomicSync(join(opts.root, LOCK_FILE), text);
  return {
    lock,
    text,
    changed: old !== text,
    stats,
    warnings: unneeded.map((p) => `${p.detail} (not needed by this lock)`),
  };
}

/**
 * Checks `eos.lock` against the workspace and against the set commits it records (each pinned
 * atom verified as of that commit). Writes nothing.
 * @throws LockError E19 naming the first problem (a missing lock too); ManifestError E16
 */
export async function checkWorkspaceLock(
  root: string,
  verifier: AtomVerifier,
  cacheDir = defaultSetCache(),
): Promise<Lock> {
  const lock = readExisting(root);
  if (!lock)
    throw new LockError(`${join(root, LOCK_FILE)} does not exist`, { hint: 'run `eos lock` to create it' });
  const workspace = readWorkspace(root);
  const opened = new Map<string, OpenedSet>();
  for (const [name, s] of Object.entries(lock.sets))
    opened.set(name, await openSet(name, s.url, root, cacheDir, s.commit));
  checkLock(lock, workspace, new Map([...opened].map(([n, s]) => [n, s.snapshot.atoms])), LOCK_FILE);
  await verifyPins(lock, opened, verifier);
  return lock;
}

/** A pinned atom, loaded for building: its manifest and a way to put its source into a store. */
export interface LockedAtom {
  label: string;
  version: string;
  set: string;
  record: LockAtom['record'];
  content: LockAtom['content'];
  /** Labels it depends on (the lock's edges). */
  deps: string[];
  /** Its published `atom.toml` (recipe, arguments, fixed-output sources). */
  manifest: Manifest;
  /** Copies its source tree into `store` (checked against `content`); returns the tree digest. */
  putContent(store: ObjectStore): Promise<ContentDigest>;
}

/**
 * Loads every pinned atom of `<root>/eos.lock` from the set commits the lock records (sets are
 * read in place or fetched), with its published manifest. Run `checkWorkspaceLock` first to verify.
 * @throws LockError E19 for a missing lock or a set that no longer has a pinned atom
 */
export async function loadLockedAtoms(root: string, cacheDir = defaultSetCache()): Promise<LockedAtom[]> {
  const lock = readExisting(root);
  if (!lock)
    throw new LockError(`${join(root, LOCK_FILE)} does not exist`, { hint: 'run `eos lock` to create it' });
  const opened = new Map<string, OpenedSet>();
  for (const [name, s] of Object.entries(lock.sets))
    opened.set(name, await openSet(name, s.url, root, cacheDir, s.commit));
  const out: LockedAtom[] = [];
  for (const [label, a] of Object.entries(lock.atoms)) {
    const s = opened.get(a.set)!;
    const tree = pinnedTree(s, a.set, label, a.version);
    const who = `${label}@${a.version}`;
    const p = await readPublishTree(s.repo, tree, who);
    if (p.digest !== a.record)
      throw new LockError(
        `${LOCK_FILE}: ${who}: set ${a.set} has record ${p.digest}, not the pinned ${a.record}`,
      );
    out.push({
      label,
      version: a.version,
      set: a.set,
      record: a.record,
      content: a.content,
      deps: a.deps,
      manifest: parseManifest(p.manifestText, `${who}: atom.toml`),
      putContent: (store) => putAtomContent(s.repo, tree, store, a.content, who),
    });
  }
  return out;
}
