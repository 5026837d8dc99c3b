/**
 * Building one atom: fetch its fixed-output sources (outside the sandbox), merge its world (the
 * seed plus the dependencies' output trees), unpack the main source at `/build/src`, run the
 * recipe in the sandbox, ingest `$OUTPUT` as a tree, check it, store the log and the build record.
 *
 * @see specs/executor.md §7
 */
import { createReadStream, mkdirSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import {
  BuildFailedError,
  NotFoundError,
  ResourceLimitError,
  digestHex,
  encodeSignature,
  signWithKey,
  type Digest,
  type Signature,
  type Store,
} from '../src/kernel/index.ts';
import {
  buildRecordDigest,
  encodeBuildRecord,
  makeBuildRecord,
  type BuildDetails,
  type BuildRecord,
} from '../scheduler/index.ts';
import { fetchSource } from './fetch/fetch.ts';
import type { FetchedSource, SourceSpec } from './fetch/source-spec.ts';
import { fixupOutput } from './output-fixups.ts';
import { runProc } from './proc.ts';
import { loadRecipe, recipeEnv, type RecipeArg } from './recipes/recipes.ts';
import { cancelledError, runSandbox, type SandboxWorlds } from './sandbox.ts';
import { readSetFromEvents, startWorldServer, type WorldServer } from './observe/observe.ts';
import { encodeReadSet, type ReadSet } from './observe/read-set.ts';
import { defaultLimits, type ResourceLimits } from './sandbox-limits.ts';
import { seedRoot, type SeedLock } from './seed/seed-lock.ts';
import { stagingDir } from './seed/seed.ts';
import {
  MAX_LAYERED_DEPENDENCIES,
  buildLayeredWorld,
  buildWorld,
  chooseWorldMount,
  dependencyLayer,
  materializeWorld,
  seedLayers,
  seedWorldImage,
  worldImage,
  worldLayerImage,
  worldTree,
  type World,
  type WorldMount,
} from './build-world.ts';

/** Debian architecture → multiarch triplet. */
const TRIPLETS: Record<string, string> = {
  amd64: 'x86_64-linux-gnu',
  arm64: 'aarch64-linux-gnu',
  i386: 'i386-linux-gnu',
  riscv64: 'riscv64-linux-gnu',
};

/** What to build. */
export interface BuildRequest {
  store: Store;
  seed: SeedLock;
  label: string;
  version: string;
  /** A standard recipe name (`std.autotools`, …). */
  recipe: string;
  /** Recipe arguments, as `atom.toml`'s `[build]` table gives them (e.g. `configure-flags`, `script`, `env`). */
  args?: Record<string, RecipeArg>;
  /** The first is unpacked at `/build/src`; others are placed at `/build/sources/<n>`. */
  sources: SourceSpec[];
  /** Dependency output trees, layered over the seed. */
  deps?: { name: string; tree: Digest }[];
  /**
   * The output tree of the atom's fetch action (specs/fetch.md §6), placed writable at
   * `/build/sources/fetch`; it is listed last in the record's `details.sources`. The build itself
   * has no network, as always.
   */
  fetched?: Digest;
  /** Private apt state for `debian-source`/`deb` sources. */
  aptDir?: string;
  /** Base directory for relative `path` sources. */
  baseDir?: string;
  /** Default: the number of CPUs. */
  jobs?: number;
  /** The build's GNU make jobserver FIFO, passed to the sandbox (specs/executor.md §3, specs/scheduler.md §4.3). */
  jobserverFd?: number;
  /**
   * Called once the recipe's sandbox has exited, before its output is checked and stored (the
   * scheduler's `slotFree`: another action may start meanwhile, specs/scheduler.md §4.5).
   */
  onSandboxDone?: () => void;
  /** Default 3600 s. */
  timeoutMs?: number;
  /** The action's pids and memory limits (default: the sandbox's; specs/executor.md §4.1). */
  limits?: ResourceLimits;
  /** Default 1700000000. */
  sourceDateEpoch?: number;
  /** The scheduler's action id, when there is one. */
  actionId?: Digest | null;
  /**
   * How the world becomes `/`: `auto` (default: composefs where mounting is permitted), `composefs`,
   * `hardlink`, or `observed` (served by the FUSE world server, which records what the build reads:
   * the record's `details.readSet`, specs/observe.md; check {@link observeAvailable} first).
   */
  worldMount?: WorldMount | 'auto';
  /**
   * Sign the record with this builder key (purpose `builds`) from the configuration directory: for
   * a build outside the scheduler (`eos build-atom`). Under the scheduler, leave it out: the
   * rebuilder signs the record it files, so each action is signed once.
   */
  signKey?: { config: string; name: string };
  /**
   * Shares the world's mount with the other sandboxes of a build (specs/executor.md §4.2): when the
   * world is mounted from its composefs image, the sandbox is started by the launcher of `worlds`,
   * in whose namespace the world is mounted (first if needed), instead of mounting it for itself
   * (specs/executor.md §4.3). Ignored for `hardlink` and `observed` worlds.
   */
  worlds?: SandboxWorlds;
  /**
   * Cancels the build: the sandbox is killed whole, nothing is stored for it (no log, output tree,
   * record or root) and its temporary directories are removed; the build rejects with E22
   * (`data.reason` `'cancelled'`).
   */
  signal?: AbortSignal;
}

/** What a build produced. */
export interface BuildResult {
  output: Digest;
  /** The action's one build record (specs/action.md §4), with the executor's details. */
  record: BuildRecord & { details: BuildDetails };
  /** Digest of the record's canonical bytes (stored as a blob). */
  recordDigest: Digest;
  world: World;
  sources: FetchedSource[];
  /** The log's object path in the store. */
  logPath: string;
  warnings: string[];
  /** How the world was mounted. */
  worldMount: WorldMount;
  /** The builder's signature over `recordDigest` (purpose `builds`), stored as a blob, when asked. */
  signature?: Signature;
  /** For an observed build: its read set and that set's digest (stored as a blob, pinned as root `reads-<16 hex>`). */
  observed?: { readSet: ReadSet; digest: Digest };
}

/** The file name a non-unpacked source gets: its `name`, else the last path segment it came from. */
function sourceFileName(s: SourceSpec): string {
  if (s.name) return s.name;
  if (s.kind === 'path') return s.path.split('/').filter(Boolean).pop() ?? 'source';
  if (s.kind === 'deb') return `${s.package}.deb`;
  return 'source';
}

/**
 * Places a source at `dir`: a tree is copied (writable); a file is unpacked when `unpack` (default:
 * not for `deb`) and it is a tarball (one top-level directory stripped), else copied into `dir`.
 */
export async function placeSource(store: Store, s: FetchedSource, dir: string): Promise<void> {
  if (s.kind === 'tree') {
    await store.materialize(s.digest, dir, { copy: true });
    return;
  }
  const blob = store.blobPath(s.digest);
  const name = sourceFileName(s.spec);
  const unpack = s.spec.unpack ?? s.spec.kind !== 'deb';
  if (!unpack) {
    await fs.mkdir(dir, { recursive: true });
    await fs.copyFile(blob, join(dir, name));
    await fs.chmod(join(dir, name), 0o644);
    return;
  }
  const tmp = `${dir}.unpack`;
  await fs.mkdir(tmp, { recursive: true });
  const r = await runProc('tar', ['-xf', blob, '-C', tmp, '--no-same-owner'], { allowFail: true });
  if (r.code === 0) {
    const top = await fs.readdir(tmp);
    const only = top.length === 1 ? join(tmp, top[0]!) : undefined;
    if (only && (await fs.lstat(only)).isDirectory()) {
      await fs.rename(only, dir);
      await fs.rm(tmp, { recursive: true });
    } else await fs.rename(tmp, dir);
    return;
  }
  await fs.rm(tmp, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  await fs.copyFile(blob, join(dir, name));
  await fs.chmod(join(dir, name), 0o644);
}

/**
 * Places an action's fetched sources in `buildDir` (specs/executor.md §5): the first at `src/` (an
 * empty `src/` when there is none), the others at `sources/<name or index>`; makes `.eos/`. Shared
 * by builds and fetch actions.
 * @throws what {@link placeSource} throws (E12)
 */
export async function placeSources(
  store: Store,
  sources: readonly FetchedSource[],
  buildDir: string,
): Promise<void> {
  mkdirSync(join(buildDir, '.eos'), { recursive: true });
  if (sources[0]) await placeSource(store, sources[0], join(buildDir, 'src'));
  else mkdirSync(join(buildDir, 'src'));
  for (let i = 1; i < sources.length; i++)
    await placeSource(store, sources[i]!, join(buildDir, 'sources', sources[i]!.spec.name ?? String(i)));
}

/** An action's world, ready to become its `/` (specs/executor.md §3). */
export interface ActionWorld {
  world: World;
  worldMount: WorldMount;
  /** The materialized world (`hardlink`), else ''. */
  worldDir: string;
  /**
   * Resolves once the world's composition is stored and pinned (a world mounted layer by layer is
   * stored while its action runs); the caller awaits it before writing anything that names
   * `world.root`. Absent: stored already.
   */
  stored?: Promise<void>;
  /** The world's composefs image (with `layers`: its seed's, under its dependencies'), and objects (`composefs`). */
  composefs?: { image: string; layers?: string[]; objectsDir: string };
}

/**
 * The world of the seed with `deps` layered over it, prepared for `worldMount` (`auto`: composefs
 * where mounting is permitted): materialized for `hardlink`, its image made for `composefs`; an
 * `observed` world is served by the caller's world server. Shared by builds and fetch actions.
 */
export async function prepareActionWorld(
  store: Store,
  seed: SeedLock,
  deps: readonly { name: string; tree: Digest }[],
  worldMount: WorldMount | 'auto' | undefined,
): Promise<ActionWorld> {
  const ahead = prefetched.get(store)?.get(seed);
  const key = prefetchKey(deps, worldMount);
  const p = ahead?.get(key);
  if (p) {
    ahead!.delete(key);
    return p;
  }
  return makeActionWorld(store, seed, deps, worldMount);
}

/** Worlds being prepared ahead of their action's start, by store, seed and {@link prefetchKey}. */
const prefetched = new WeakMap<Store, WeakMap<SeedLock, Map<string, Promise<ActionWorld>>>>();

function prefetchKey(
  deps: readonly { name: string; tree: Digest }[],
  mount: WorldMount | 'auto' | undefined,
): string {
  return JSON.stringify([deps, mount ?? 'auto']);
}

/**
 * Starts {@link prepareActionWorld} for an action that is waiting for a job slot (the scheduler's
 * `prepare` hint, specs/scheduler.md §4.4); the action's own call then takes this one (or its
 * error) instead of starting again. The world and its image are stored objects and a cached
 * image, so a prepared world whose action never runs leaves nothing half-made. With `worlds`, a
 * composefs world is also mounted in the build's launcher (and left unused there, as any world
 * whose sandbox has ended).
 */
export function prefetchActionWorld(
  store: Store,
  seed: SeedLock,
  deps: readonly { name: string; tree: Digest }[],
  worldMount: WorldMount | 'auto' | undefined,
  worlds?: SandboxWorlds,
): void {
  let bySeed = prefetched.get(store);
  if (!bySeed) prefetched.set(store, (bySeed = new WeakMap()));
  let byKey = bySeed.get(seed);
  if (!byKey) bySeed.set(seed, (byKey = new Map()));
  const key = prefetchKey(deps, worldMount);
  if (byKey.has(key)) return;
  const p = makeActionWorld(store, seed, deps, worldMount);
  p.catch(() => undefined); // the action's own call reports it
  byKey.set(key, p);
  // Mounted ahead too, in the build's launcher (specs/executor.md §4.2): released at once, the
  // world stays mounted, unused, for the action's sandbox (or is unmounted beyond maxIdle).
  if (worlds)
    void p.then((w) => (w.composefs ? worlds.prepare(w.composefs) : undefined)).catch(() => undefined); // the action's own enter reports it
}

async function makeActionWorld(
  store: Store,
  seed: SeedLock,
  deps: readonly { name: string; tree: Digest }[],
  worldMount: WorldMount | 'auto' | undefined,
): Promise<ActionWorld> {
  const layers = [...seedLayers(seed), ...deps.map((d) => dependencyLayer(d.name, d.tree))];
  const mount = chooseWorldMount(worldMount);
  // A union of dependency outputs over the seed is mounted layer by layer (specs/executor.md §2.2):
  // the seed's image (made once) under each output's layer image (made once per output tree).
  if (mount === 'composefs' && deps.length > 0 && deps.length <= MAX_LAYERED_DEPENDENCIES) {
    const layered = await buildLayeredWorld(store, layers);
    if (layered) {
      // The images are made while the world's composition is stored, which the sandbox does not
      // wait for: only the build record, which names the world's root, does (`stored`).
      // Dependencies with the same output tree are one layer (the same tree merges to itself).
      const trees = [...new Set(layered.deps.map((d) => d.tree))];
      const [image, ...above] = await Promise.all([
        seedWorldImage(store, layered.seedRoot),
        ...trees.map((t) => worldLayerImage(store, t)),
      ]);
      return {
        stored: layered.stored,
        world: layered.world,
        worldMount: mount,
        worldDir: '',
        composefs: { image: image!, layers: above, objectsDir: store.dir('objects') },
      };
    }
  }
  const world = await buildWorld(store, layers);
  const worldDir = mount === 'hardlink' ? await materializeWorld(store, world.root) : '';
  return {
    world,
    worldMount: mount,
    worldDir,
    ...(mount === 'composefs'
      ? { composefs: { image: await worldImage(store, world.root), objectsDir: store.dir('objects') } }
      : {}),
  };
}

const BUILD_PATH_MARKERS = ['/build/src', '/build/_build', '/build/sources'].map((m) => Buffer.from(m));

async function walk(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const n of (await fs.readdir(join(dir, rel))).sort()) {
    const r = rel ? `${rel}/${n}` : n;
    const st = await fs.lstat(join(dir, r));
    if (st.isDirectory()) out.push(...(await walk(dir, r)));
    else if (st.isFile()) out.push(r);
  }
  return out;
}

/**
 * Checks an output directory: files that contain the sandbox build path, ELF files with an
 * RPATH or RUNPATH (via `readelf -d`). Returns warnings, sorted.
 */
export async function checkOutput(dir: string): Promise<string[]> {
  const warnings: string[] = [];
  for (const rel of await walk(dir)) {
    const p = join(dir, rel);
    const bytes = await fs.readFile(p);
    const hit = BUILD_PATH_MARKERS.find((m) => bytes.includes(m));
    if (hit) warnings.push(`/${rel}: contains the build directory path ${hit.toString()}`);
    if (bytes.length > 4 && bytes[0] === 0x7f && bytes.toString('latin1', 1, 4) === 'ELF') {
      const r = await runProc('readelf', ['-d', '-W', p], { allowFail: true });
      for (const line of r.stdout.split('\n')) {
        const m = /\((RPATH|RUNPATH)\)\s+Library (?:rpath|runpath): \[(.*)\]/.exec(line);
        if (m) warnings.push(`/${rel}: ${m[1]} [${m[2]}]`);
      }
    }
  }
  return warnings.sort();
}

async function putFileBlob(store: Store, path: string): Promise<Digest> {
  const chunks: Buffer[] = [];
  for await (const c of createReadStream(path)) chunks.push(c as Buffer);
  return store.putBlob(Buffer.concat(chunks));
}

/**
 * Builds one atom (see the module comment).
 * @throws BuildFailedError E22 when the recipe exits non-zero or times out (the log is stored and
 *   named), or when `req.signal` aborts (`data.reason` `'cancelled'`; nothing stored); FixedOutputMismatchError E13; SandboxError E21; CompositionError E18; BuildClosureError E7
 */
export async function buildAtom(req: BuildRequest): Promise<BuildResult> {
  const t0 = Date.now();
  const store = req.store;
  const signal = req.signal;
  /** Throws the cancellation error when the signal has aborted (checked between the steps). */
  const checkCancelled = (): void => {
    if (signal?.aborted) throw cancelledError(`${req.label} ${req.version}`, signal);
  };
  checkCancelled();
  const recipe = loadRecipe(req.recipe);
  // Plain JSON objects (a TOML parser may hand over null-prototype tables).
  const args = JSON.parse(JSON.stringify(req.args ?? {})) as Record<string, RecipeArg>;
  const sources: FetchedSource[] = [];
  for (const s of req.sources)
    sources.push(await fetchSource(s, { store, aptDir: req.aptDir, baseDir: req.baseDir }));
  let fetched: FetchedSource | undefined;
  if (req.fetched) {
    if (!(await store.hasTree(req.fetched)))
      throw new NotFoundError(
        `${req.label} ${req.version}: fetch output ${req.fetched} is not in the store`,
        {
          hint: 'run the fetch first (eos fetch ATOM_DIR --replay)',
        },
      );
    fetched = {
      spec: { kind: 'path', path: 'fetch', name: 'fetch', digest: req.fetched },
      digest: req.fetched,
      kind: 'tree',
      cached: true,
    };
  }
  const deps = req.deps ?? [];
  // The world and the build directory do not depend on each other: the sources are placed while
  // the world is made (or while the one made ahead finishes, specs/scheduler.md §4.4).
  const worldReady = prepareActionWorld(store, req.seed, deps, req.worldMount);
  worldReady.catch(() => undefined); // awaited below (a failure to place the sources comes first)

  checkCancelled();
  const top = await stagingDir(store, 'build');
  let server: WorldServer | undefined;
  try {
    const buildDir = join(top, 'build');
    const outputDir = join(top, 'output');
    mkdirSync(outputDir);
    await placeSources(store, sources, buildDir);
    if (fetched) {
      await placeSource(store, fetched, join(buildDir, 'sources', 'fetch'));
      sources.push(fetched);
    }
    writeFileSync(join(buildDir, '.eos', 'recipe.sh'), recipe.script);
    const { world, worldMount, worldDir, composefs, stored } = await worldReady;
    checkCancelled();
    if (worldMount === 'observed')
      server = await startWorldServer(store, await worldTree(store, world), `${req.label} ${req.version}`);
    const sourceDateEpoch = req.sourceDateEpoch ?? 1700000000;
    const logFile = join(top, 'log');
    const triplet = TRIPLETS[req.seed.arch] ?? `${req.seed.arch}-linux-gnu`;
    checkCancelled();
    const r = await runSandbox({
      ...(signal ? { signal } : {}),
      worldDir: server ? server.mountPoint : worldDir,
      ...(composefs ? { composefs } : {}),
      ...(composefs && req.worlds ? { worlds: req.worlds } : {}),
      buildDir,
      outputDir,
      argv: ['/bin/sh', '/build/.eos/recipe.sh'],
      sourceDateEpoch,
      jobs: req.jobs ?? cpus().length,
      ...(req.jobserverFd !== undefined ? { jobserverFd: req.jobserverFd } : {}),
      timeoutMs: req.timeoutMs ?? 3600_000,
      ...(req.limits ? { limits: req.limits } : {}),
      logPath: logFile,
      extraEnv: {
        ...recipeEnv(args),
        EOS_TRIPLET: triplet,
      },
    }).catch((e: unknown) => {
      // Name the atom in the cancellation error (the sandbox only knows its log path).
      if (signal?.aborted) throw cancelledError(`${req.label} ${req.version}`, signal);
      throw e;
    });
    // The sandbox has exited: what is left (the checks, storing the output and the log) needs no
    // job slot (specs/scheduler.md §4.5).
    req.onSandboxDone?.();
    checkCancelled(); // aborted as the recipe ended: its output is not stored
    const events = server ? await server.stop() : undefined;
    const log = await putFileBlob(store, logFile);
    const logPath = store.blobPath(log);
    if (r.exitCode !== 0) {
      const tail = (await fs.readFile(logFile, 'utf8')).trim().split('\n').slice(-5).join('\n  ');
      if (r.limitExceeded) {
        const lim = req.limits ?? defaultLimits();
        const what =
          r.limitExceeded === 'pids'
            ? `its limit of ${lim.maxPids} processes (--max-pids)`
            : `its memory limit of ${lim.maxMemory} bytes (--max-memory)`;
        throw new ResourceLimitError(
          `${req.label} ${req.version}: recipe ${recipe.name} exceeded ${what}; log ${log}:\n  ${tail}`,
          {
            data: {
              label: req.label,
              log,
              logPath,
              exitCode: r.exitCode,
              limit: r.limitExceeded,
              max: r.limitExceeded === 'pids' ? lim.maxPids : lim.maxMemory,
            },
            hint: `full log: ${logPath}`,
          },
        );
      }
      throw new BuildFailedError(
        `${req.label} ${req.version}: recipe ${recipe.name} ${r.timedOut ? 'timed out' : `failed (exit ${r.exitCode ?? r.signal})`}; log ${log}:\n  ${tail}`,
        {
          data: { label: req.label, log, logPath, exitCode: r.exitCode, timedOut: r.timedOut },
          hint: `full log: ${logPath}`,
        },
      );
    }
    // The output fixups (output-fixups.ts), noted among the warnings, then the checks.
    const fixed = (await fixupOutput(outputDir, triplet)).map(
      (n) =>
        `${n.path}: ${n.entry} [${n.value}] removed (only the loader's default directories or the build directory)`,
    );
    const warnings = [...fixed, ...(await checkOutput(outputDir))].sort();
    checkCancelled();
    const output = (await store.ingest(outputDir)).digest;
    // The output's layer image (specs/executor.md §3.1), made now, after the sandbox has given its
    // slot back, so that a dependent's world finds it made instead of making it in its own slot.
    if (worldMount === 'composefs') await worldLayerImage(store, output);
    let observed: BuildResult['observed'];
    if (events) {
      const readSet = await readSetFromEvents(store, world, events);
      const digest = await store.putBlob(encodeReadSet(readSet));
      await store.addRoot(`reads-${digestHex(digest).slice(0, 16)}`, digest);
      observed = { readSet, digest };
    }
    // The one record of this action (specs/action.md §4): the scheduler files this very record.
    const details: BuildDetails = {
      label: req.label,
      atomVersion: req.version,
      recipe: { name: recipe.name, identity: recipe.identity, args },
      seed: { mode: req.seed.mode, root: seedRoot(req.seed) },
      shadowed: world.shadowed,
      sources: sources.map((s) => s.digest),
      dependencies: deps,
      sourceDateEpoch,
      warnings,
      ...(observed ? { readSet: observed.digest } : {}),
    };
    const record = {
      ...makeBuildRecord({
        action: req.actionId ?? null,
        output,
        world: world.root,
        log,
        durationMs: Date.now() - t0,
        seedMode: req.seed.mode,
        details,
      }),
      details,
    };
    await stored; // the record names the world's root: its composition is stored first
    checkCancelled(); // no record or root for a cancelled build
    const recordDigest = await store.putBlob(encodeBuildRecord(record));
    if (recordDigest !== buildRecordDigest(record)) throw new Error('build record digest mismatch');
    await store.addRoot(`build-${digestHex(recordDigest).slice(0, 16)}`, recordDigest);
    let signature: Signature | undefined;
    if (req.signKey) {
      signature = await signWithKey(req.signKey.config, req.signKey.name, recordDigest, 'builds');
      const sigBlob = await store.putBlob(encodeSignature(signature));
      await store.addRoot(`build-${digestHex(recordDigest).slice(0, 16)}-sig`, sigBlob);
    }
    return {
      output,
      record,
      recordDigest,
      world,
      worldMount,
      sources,
      logPath,
      warnings,
      ...(signature ? { signature } : {}),
      ...(observed ? { observed } : {}),
    };
  } finally {
    if (server) await server.stop().catch(() => undefined);
    await fs.rm(top, { recursive: true, force: true });
  }
}
