/**
 * `eos build-atom PATH`: builds one atom directory in the seed's world with explicit dependency
 * outputs (`--dep NAME=TREE`). Reads `PATH/atom.toml` when present (the atoms manifest parser:
 * `[atom]`, `[build]` recipe and arguments, `[[source]]`); options override it (`--recipe`,
 * `--args JSON`, `--source JSON`…). With no source at all, the atom directory itself is the
 * source. An atom with `[fetch]` is built over its fetch tree, replayed from `fetch.lock` first
 * (specs/fetch.md §7). Prints `ok\tLABEL\tOUTPUT_TREE\tRECORD` and one `warning\t…` line per warning.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseManifest, type Manifest } from '../../atoms/index.ts';
import {
  buildAtom,
  parseFetchLock,
  parseSourceSpec,
  readSeedLock,
  runFetchAction,
  stagingDir,
  type FetchLock,
  type RecipeArg,
  type SeedLock,
  type SourceSpec,
} from '../../executor/index.ts';
import { FetchLockError, NotFoundError, UsageError } from '../kernel/errors.ts';
import { readFileBounded } from '../kernel/read-bounded.ts';
import { Store } from '../kernel/store/index.ts';
import { parseDigest, type Digest } from '../kernel/digest.ts';
import { configDir } from '../kernel/config.ts';
import { positiveInt, secondsToMs } from './options.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos build-atom`. */
export interface BuildAtomOptions extends GlobalOptions {
  path: string;
  seedLock?: string;
  recipe?: string;
  /** Recipe arguments as a JSON object (e.g. `{"configure-flags":["--static"]}`). */
  args?: string;
  source?: string[];
  dep?: string[];
  label?: string;
  atomVersion?: string;
  jobs?: string;
  timeout?: string;
  aptDir?: string;
  signKey?: string;
  /** `KEY=VALUE` for the fetch action of an atom with `[fetch]` (e.g. `npm_config_registry`). */
  env?: string[];
}

function json(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${what}: not JSON`);
  }
}

/** What an atom directory gives a build or a fetch: its manifest, sources, dependencies and seed. */
export interface AtomDir {
  dir: string;
  m: Manifest | undefined;
  store: Store;
  sources: SourceSpec[];
  deps: { name: string; tree: Digest }[];
  seed: SeedLock;
}

/**
 * Reads an atom directory as `eos build-atom` and `eos fetch` do: `atom.toml` when present, the
 * `--source` options or the manifest's sources (or, with none, the directory itself), `--dep`, the seed lock.
 * @throws NotFoundError E6 for a missing directory; UsageError E1; ManifestError E16; SeedError E24
 */
export async function readAtomDir(
  opts: Pick<BuildAtomOptions, 'path' | 'store' | 'source' | 'dep' | 'seedLock'>,
): Promise<AtomDir> {
  const dir = resolve(opts.path);
  const manifestPath = join(dir, 'atom.toml');
  if (!existsSync(dir)) throw new NotFoundError(`${dir}: no such atom directory`, { data: { path: dir } });
  const m = existsSync(manifestPath)
    ? parseManifest(
        (await readFileBounded(manifestPath, { what: 'atom manifest' })).toString('utf8'),
        manifestPath,
      )
    : undefined;
  const store = new Store(opts.store);
  let sources: SourceSpec[] = (opts.source ?? []).map((s, i) =>
    parseSourceSpec(json(s, `--source #${i + 1}`), `--source #${i + 1}`),
  );
  if (sources.length === 0 && m) sources = m.source as SourceSpec[];
  if (sources.length === 0) {
    const probeDir = await stagingDir(store, 'probe');
    try {
      const probe = await new Store(probeDir, { durable: false }).ingest(dir, { fsync: false });
      sources = [{ kind: 'path', path: dir, digest: probe.digest }];
    } finally {
      await rm(probeDir, { recursive: true, force: true });
    }
  }
  const deps = (opts.dep ?? []).map((d) => {
    const i = d.indexOf('=');
    if (i <= 0) throw new UsageError(`--dep ${JSON.stringify(d)}: expected NAME=TREE_DIGEST`);
    return { name: d.slice(0, i), tree: parseDigest(d.slice(i + 1), `--dep ${d.slice(0, i)}`) as Digest };
  });
  const seed = await readSeedLock(opts.seedLock ?? 'seed.lock');
  return { dir, m, store, sources, deps, seed };
}

/** `--env KEY=VALUE` options (or `option`'s) as a table. @throws UsageError E1 */
export function parseEnvArgs(env: string[] | undefined, option = '--env'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env ?? []) {
    const i = e.indexOf('=');
    if (i <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.slice(0, i)))
      throw new UsageError(`${option} ${JSON.stringify(e)}: expected KEY=VALUE`);
    out[e.slice(0, i)] = e.slice(i + 1);
  }
  return out;
}

/** Reads `DIR/fetch.lock`. @throws FetchLockError E54 when it is missing or malformed */
export async function readFetchLock(dir: string): Promise<FetchLock> {
  const path = join(dir, 'fetch.lock');
  if (!existsSync(path))
    throw new FetchLockError(`${path}: no fetch.lock (the atom has [fetch])`, {
      data: { file: path },
      hint: `record it: eos fetch ${dir} --record`,
    });
  return parseFetchLock(await readFileBounded(path, { what: 'fetch lock' }), path);
}

/**
 * Runs `eos build-atom`.
 * @throws UsageError E1, ManifestError E16, SeedError E24, and the build's errors (E13, E18, E21, E22, …)
 */
export async function run(opts: BuildAtomOptions): Promise<CommandResult> {
  const jobs = positiveInt(opts.jobs, '--jobs');
  const timeoutMs = secondsToMs(opts.timeout, '--timeout');
  const { dir, m, store, sources, deps, seed } = await readAtomDir(opts);
  const recipe = opts.recipe ?? m?.build?.recipe;
  if (!recipe) throw new UsageError(`${dir}: no recipe (give --recipe or [build] recipe in atom.toml)`);
  let args: Record<string, RecipeArg> = m?.build?.args ?? {};
  if (opts.args !== undefined) {
    const v = json(opts.args, '--args');
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw new UsageError('--args: expected a JSON object');
    args = v as Record<string, RecipeArg>;
  }
  // An atom with [fetch] is built over its replayed fetch tree (specs/fetch.md §7).
  const fetched = m?.fetch
    ? (
        await runFetchAction({
          store,
          seed,
          label: opts.label ?? m.atom.label,
          version: opts.atomVersion ?? m.atom.version,
          script: m.fetch.script,
          env: { ...m.fetch.env, ...parseEnvArgs(opts.env) },
          sources,
          deps,
          mode: 'replay',
          lock: await readFetchLock(dir),
          baseDir: dir,
          ...(opts.aptDir ? { aptDir: opts.aptDir } : {}),
          ...(jobs !== undefined ? { jobs } : {}),
        })
      ).output
    : undefined;
  const r = await buildAtom({
    store,
    seed,
    label: opts.label ?? m?.atom.label ?? dir.split('/').pop()!,
    version: opts.atomVersion ?? m?.atom.version ?? '0.0.0',
    recipe,
    args,
    sources,
    deps,
    baseDir: dir,
    ...(fetched ? { fetched } : {}),
    ...(opts.aptDir ? { aptDir: opts.aptDir } : {}),
    ...(opts.signKey ? { signKey: { config: configDir(), name: opts.signKey } } : {}),
    ...(jobs !== undefined ? { jobs } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
  return {
    lines: [
      `ok\t${r.record.details.label}\t${r.output}\t${r.recordDigest}`,
      ...r.warnings.map((w) => `warning\t${w}`),
    ],
    json: {
      version: 1,
      output: r.output,
      record: r.record,
      recordDigest: r.recordDigest,
      signature: r.signature ?? null,
    },
    notes: [
      `built ${r.record.details.label} in ${r.record.durationMs} ms; world ${r.world.root}; log ${r.logPath}`,
    ],
  };
}
