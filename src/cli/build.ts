/**
 * `eos build [LOCK]`: builds every atom of a lock with the Eos scheduler and the sandboxed
 * executor. Everything that can be checked before a build is checked first (the lock, every
 * manifest, recipes, the graph: `[E#]`, exit 1, nothing built); then actions run in parallel,
 * critical path first, cached ones skipped, one failure never stopping unrelated work.
 * Prints the surface of specs/scheduler.md §10; a progress bar on stderr when it is a terminal.
 *
 * Atoms come from the lock: workspace atoms from their directories, published atoms from their
 * set's repository at the set commit the lock records (their `content/` tree is exported to a
 * staging directory). Published sets must be local repositories here.
 *
 * @see specs/scheduler.md, specs/action.md, specs/lock.md
 */
import { mkdir, mkdtemp, readFile, rm, writeFile, chmod, symlink } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import * as fs from 'node:fs';
import git from 'isomorphic-git';
import {
  localPathOf,
  openRepo,
  parseLock,
  parseManifest,
  readPublishTree,
  readSetState,
  type Manifest,
} from '../../atoms/index.ts';
import {
  buildAtom,
  loadRecipe,
  parseSourceSpec,
  readSeedLock,
  recipeEnv,
  seedRoot,
  type SeedLock,
  type SourceSpec,
} from '../../executor/index.ts';
import {
  Jobserver,
  SIGNAL_EXIT,
  abortOnSignals,
  actionId,
  historyPath,
  keySigner,
  runBuild,
  storeRebuilder,
  type SchedNode,
} from '../../scheduler/index.ts';
import { BuildClosureError, LockError, UsageError } from '../kernel/errors.ts';
import { Store } from '../kernel/store/index.ts';
import type { Digest } from '../kernel/digest.ts';
import { configDir } from '../kernel/config.ts';
import { readSecretKey } from '../kernel/keys/index.ts';
import { createProgressDisplay } from './build-progress.ts';
import { composeBuild } from './build-compose.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos build`. */
export interface BuildOptions extends GlobalOptions {
  lock?: string;
  seedLock?: string;
  jobs?: string;
  only?: string;
  dryRun?: boolean;
  check?: boolean;
  aptDir?: string;
  signKey?: string;
  timeout?: string;
  /** Write the runtime composition of the built closure (TOML) to this file; store and sign it. */
  compose?: string;
}

/** One action of the lock: the node plus what the executor needs. */
interface AtomNode extends SchedNode {
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

/** The sources of a manifest in the executor's form (validated again by the executor's parser). */
function executorSources(m: Manifest, who: string): SourceSpec[] {
  return m.source.map((s, i) => parseSourceSpec(s, `${who}: source[${i}]`));
}

/** Writes a git tree to `dir` (files with their exec bit, symlinks, subtrees). */
async function exportGitTree(gitdir: string, oid: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const { tree } = await git.readTree({ fs, gitdir, oid });
  for (const e of tree) {
    const p = join(dir, e.path);
    if (e.type === 'tree') await exportGitTree(gitdir, e.oid, p);
    else if (e.type === 'blob') {
      const { blob } = await git.readBlob({ fs, gitdir, oid: e.oid });
      if (e.mode === '120000') await symlink(new TextDecoder().decode(blob), p);
      else {
        await writeFile(p, blob);
        if (e.mode === '100755') await chmod(p, 0o755);
      }
    }
  }
}

/** The tree digest a directory would have (ingested into a throwaway store). */
async function treeDigestOf(dir: string): Promise<Digest> {
  const probe = await mkdtemp(join(tmpdir(), 'eos-probe-'));
  try {
    return (await new Store(probe).ingest(dir, { fsync: false })).digest;
  } finally {
    await rm(probe, { recursive: true, force: true });
  }
}

/**
 * Reads the lock and every atom it names into build nodes; atoms without `[build]` (a workspace
 * root that only groups dependencies) are not actions.
 * @throws LockError E19, ManifestError E16, BuildClosureError E7 (an action depending on an atom
 *   without a recipe, an unknown recipe), AtomError E20, NotFoundError E4
 */
async function loadNodes(lockPath: string, staging: string): Promise<AtomNode[]> {
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
  const all: (Omit<AtomNode, 'manifest'> & { manifest: Manifest })[] = [];
  for (const [label, w] of Object.entries(lock.workspace)) {
    const dir = resolve(root, w.path);
    const file = join(dir, 'atom.toml');
    const manifest = parseManifest(await readFile(file, 'utf8'), file);
    if (manifest.atom.label !== label)
      throw new LockError(`${lockPath}: workspace.${label}: ${file} declares ${manifest.atom.label}`, {
        data: { label },
        hint: 'run `eos lock` again',
      });
    const digest = await treeDigestOf(dir);
    all.push({ label, deps: w.deps, version: w.version, content: digest, manifest, dir, dirDigest: digest });
  }
  const sets = new Map<string, Awaited<ReturnType<typeof readSetState>> & { gitdir: string }>();
  for (const [label, a] of Object.entries(lock.atoms)) {
    const set = lock.sets[a.set]!;
    let state = sets.get(a.set);
    if (!state) {
      const repo = await openRepo(localPathOf(set.url, root));
      state = { ...(await readSetState(repo, set.commit)), gitdir: repo.gitdir };
      sets.set(a.set, state);
    }
    const listed = state.atoms.find((x) => x.label === label && x.version === a.version);
    if (!listed)
      throw new LockError(
        `${lockPath}: atoms.${label}: ${a.version} is not in set ${a.set} at ${set.commit}`,
        {
          data: { label },
        },
      );
    const repo = await openRepo(localPathOf(set.url, root));
    const pub = await readPublishTree(repo, listed.tree, `${label}@${a.version}`);
    if (pub.digest !== a.record)
      throw new LockError(
        `${lockPath}: atoms.${label}: publish record ${pub.digest} is not the locked ${a.record}`,
        {
          data: { label },
        },
      );
    const manifest = parseManifest(pub.manifestText, `${label}@${a.version}/atom.toml`);
    const { tree } = await git.readTree({ fs, gitdir: state.gitdir, oid: listed.tree });
    const content = tree.find((e) => e.path === 'content')!;
    const dir = join(staging, `${label}@${a.version}`);
    await exportGitTree(state.gitdir, content.oid, dir);
    const dirDigest = await treeDigestOf(dir);
    all.push({ label, deps: a.deps, version: a.version, content: a.content, manifest, dir, dirDigest });
  }
  const withBuild = new Set(all.filter((n) => n.manifest.build).map((n) => n.label));
  const nodes: AtomNode[] = [];
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
    nodes.push(n as AtomNode);
  }
  return nodes;
}

/** Runs `eos build`. @throws UsageError E1 and the located errors of `loadNodes` (exit 1) */
export async function run(opts: BuildOptions): Promise<CommandResult> {
  const lockPath = resolve(opts.lock ?? 'eos.lock');
  const jobs = opts.jobs === undefined ? undefined : Number(opts.jobs);
  if (jobs !== undefined && !(Number.isInteger(jobs) && jobs >= 1))
    throw new UsageError(`--jobs: ${JSON.stringify(opts.jobs)} is not a positive whole number`);
  const only = opts.only
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const store = new Store(opts.store);
  const signer = opts.signKey ? keySigner((await readSecretKey(configDir(), opts.signKey)).seed) : undefined;
  const staging = await mkdtemp(join(tmpdir(), 'eos-build-atoms-'));
  const sig = abortOnSignals((s) => process.stderr.write(`eos: ${s}: cancelling (no new builds start)\n`));
  const display = opts.json ? { onEvent: () => {}, stop: () => {} } : createProgressDisplay(process.stderr);
  // --jobs N owns N job tokens, shared by every running action's make (specs/scheduler.md §4.3).
  const jobserver = opts.dryRun ? undefined : new Jobserver(jobs ?? availableParallelism());
  try {
    const nodes = await loadNodes(lockPath, staging);
    const seed: SeedLock = await readSeedLock(resolve(opts.seedLock ?? join(dirname(lockPath), 'seed.lock')));
    const toolchain = seedRoot(seed);
    const r = await runBuild<AtomNode>({
      nodes,
      storeDir: store.root,
      seedMode: seed.mode,
      ...(jobs !== undefined ? { jobs } : {}),
      ...(jobserver ? { jobserver } : {}),
      ...(only?.length ? { only } : {}),
      ...(opts.dryRun ? { dryRun: true } : {}),
      ...(opts.check ? { check: true } : {}),
      historyPath: historyPath(store.root),
      signal: sig.signal,
      cancelledExit: () => SIGNAL_EXIT[(sig.received() ?? 'SIGINT') as 'SIGINT' | 'SIGTERM'],
      onEvent: (e) => display.onEvent(e),
      // Records go to stdout as they happen, unless the progress bar shares the terminal with them
      // (then they follow the bar at the end) or --json collects everything into one document.
      ...(!opts.json && !(process.stdout.isTTY && process.stderr.isTTY) && opts.emit
        ? { onLine: opts.emit }
        : {}),
      rebuilder: storeRebuilder(store, signer ? { signer } : {}),
      key: (n, depOutputs) =>
        actionId({
          atom: n.content,
          recipe: loadRecipe(n.manifest.build.recipe).identity,
          args: n.manifest.build.args,
          toolchain,
          seedMode: seed.mode,
          arch: seed.arch,
          deps: { ...depOutputs },
        }),
      executor: async (n, ctx) => {
        const r = await buildAtom({
          store,
          seed,
          label: n.label,
          version: n.version,
          recipe: n.manifest.build.recipe,
          args: n.manifest.build.args,
          // No [[source]]: the atom's own directory is the source (pinned by its tree digest).
          sources: n.manifest.source.length
            ? executorSources(n.manifest, n.label)
            : [{ kind: 'path', path: n.dir, digest: n.dirDigest }],
          deps: Object.entries(ctx.depOutputs).map(([name, tree]) => ({ name, tree })),
          baseDir: n.dir,
          jobs: ctx.makeJobs,
          ...(ctx.jobserverFd !== undefined ? { jobserverFd: ctx.jobserverFd } : {}),
          actionId: ctx.action,
          signal: ctx.signal, // SIGINT/SIGTERM kill the sandbox; nothing is stored
          ...(opts.aptDir ? { aptDir: opts.aptDir } : {}),
          ...(opts.signKey ? { signKey: { config: configDir(), name: opts.signKey } } : {}),
          ...(opts.timeout ? { timeoutMs: Number(opts.timeout) * 1000 } : {}),
        });
        return { output: r.output, world: r.world.root, log: r.record.log, details: r.recordDigest };
      },
    });
    if (!opts.compose || opts.dryRun || r.exitCode !== 0 || !r.result)
      return { lines: r.lines, json: r.json, exitCode: r.exitCode };
    // The result as a composition (issue #6 item 4): runtime seed entries + every output.
    const outputs: Record<string, Digest> = {};
    for (const [label, res] of r.result.results) if (res.output) outputs[label] = res.output;
    const c = await composeBuild({
      store,
      seed,
      outputs,
      file: resolve(opts.compose),
      ...(opts.signKey ? { sign: { config: configDir(), name: opts.signKey } } : {}),
    });
    return {
      // Before the summary line, which stays last.
      lines: [
        ...r.lines.slice(0, -1),
        `composition\t${c.root}\t${resolve(opts.compose)}`,
        ...r.lines.slice(-1),
      ],
      json: { ...(r.json as object), composition: { root: c.root, file: resolve(opts.compose) } },
      exitCode: r.exitCode,
      notes: [
        ...c.shadowed.map((s) => `shadowed\t${s.path}\t${s.winner} over ${s.shadowed.join(', ')}`),
        c.signedBy ? `composition signed by ${c.signedBy}` : 'composition not signed (no --sign-key)',
      ],
    };
  } finally {
    display.stop();
    sig.dispose();
    jobserver?.close();
    await rm(staging, { recursive: true, force: true });
  }
}
