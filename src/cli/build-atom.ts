/**
 * `eos build-atom PATH`: builds one atom directory in the seed's world with explicit dependency
 * outputs (`--dep NAME=TREE`). Reads `PATH/atom.toml` when present (the atoms manifest parser:
 * `[atom]`, `[build]` recipe and arguments, `[[source]]`); options override it (`--recipe`,
 * `--args JSON`, `--source JSON`…). With no source at all, the atom directory itself is the
 * source. Prints `ok\tLABEL\tOUTPUT_TREE\tRECORD` and one `warning\t…` line per warning.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseManifest } from '../../atoms/index.ts';
import {
  buildAtom,
  parseSourceSpec,
  readSeedLock,
  stagingDir,
  type RecipeArg,
  type SourceSpec,
} from '../../executor/index.ts';
import { NotFoundError, UsageError } from '../kernel/errors.ts';
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
}

function json(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${what}: not JSON`);
  }
}

/**
 * Runs `eos build-atom`.
 * @throws UsageError E1, ManifestError E16, SeedError E24, and the build's errors (E13, E18, E21, E22, …)
 */
export async function run(opts: BuildAtomOptions): Promise<CommandResult> {
  const jobs = positiveInt(opts.jobs, '--jobs');
  const timeoutMs = secondsToMs(opts.timeout, '--timeout');
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
  const recipe = opts.recipe ?? m?.build?.recipe;
  if (!recipe) throw new UsageError(`${dir}: no recipe (give --recipe or [build] recipe in atom.toml)`);
  let args: Record<string, RecipeArg> = m?.build?.args ?? {};
  if (opts.args !== undefined) {
    const v = json(opts.args, '--args');
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw new UsageError('--args: expected a JSON object');
    args = v as Record<string, RecipeArg>;
  }
  let sources: SourceSpec[] = (opts.source ?? []).map((s, i) =>
    parseSourceSpec(json(s, `--source #${i + 1}`), `--source #${i + 1}`),
  );
  if (sources.length === 0 && m) sources = m.source as SourceSpec[];
  if (sources.length === 0) {
    const probeDir = await stagingDir(store, 'probe');
    try {
      const probe = await new Store(probeDir).ingest(dir, { fsync: false });
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
