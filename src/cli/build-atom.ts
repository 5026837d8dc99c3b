/**
 * `eos build-atom PATH`: builds one atom directory in the seed's world with explicit dependency
 * outputs (`--dep NAME=TREE`). Reads `PATH/atom.toml` when present (`[atom] label, version`,
 * `[build] recipe, args, script`, `[[source]]`); options override it. With no `[[source]]`, the
 * atom directory itself is the source. Prints `ok\tLABEL\tOUTPUT_TREE\tRECORD` and warnings.
 */
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import {
  buildAtom,
  parseSourceSpec,
  readSeedLock,
  stagingDir,
  type SourceSpec,
} from '../../executor/index.ts';
import { ManifestError, UsageError } from '../errors.ts';
import { Store } from '../store/index.ts';
import { parseDigest, type Digest } from '../digest.ts';
import { configDir } from '../config.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos build-atom`. */
export interface BuildAtomOptions extends GlobalOptions {
  path: string;
  seedLock?: string;
  recipe?: string;
  arg?: string[];
  source?: string[];
  dep?: string[];
  label?: string;
  atomVersion?: string;
  jobs?: string;
  timeout?: string;
  aptDir?: string;
  signKey?: string;
}

interface Manifest {
  label?: string;
  version?: string;
  recipe?: string;
  args?: string[];
  script?: string;
  sources: SourceSpec[];
}

function readManifest(dir: string): Manifest {
  const p = join(dir, 'atom.toml');
  if (!existsSync(p)) return { sources: [] };
  let t: Record<string, unknown>;
  try {
    t = parseToml(readFileSync(p, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new ManifestError(`${p}: ${(e as Error).message.split('\n')[0]}`);
  }
  const atom = (t.atom ?? {}) as Record<string, unknown>;
  const build = (t.build ?? {}) as Record<string, unknown>;
  const sources = ((t.source ?? []) as unknown[]).map((s, i) => parseSourceSpec(s, `${p}: source[${i}]`));
  const args = build.args;
  if (args !== undefined && (!Array.isArray(args) || args.some((a) => typeof a !== 'string')))
    throw new ManifestError(`${p}: build.args: expected an array of strings`);
  return {
    ...(typeof atom.label === 'string' ? { label: atom.label } : {}),
    ...(typeof atom.version === 'string' ? { version: atom.version } : {}),
    ...(typeof build.recipe === 'string' ? { recipe: build.recipe } : {}),
    ...(args ? { args: args as string[] } : {}),
    ...(typeof build.script === 'string' ? { script: build.script } : {}),
    sources,
  };
}

/** Runs `eos build-atom`. @throws UsageError E1, ManifestError E16, and the build's errors (E13, E21, E22, …) */
export async function run(opts: BuildAtomOptions): Promise<CommandResult> {
  const dir = resolve(opts.path);
  const m = readManifest(dir);
  const store = new Store(opts.store);
  const recipe = opts.recipe ?? m.recipe;
  if (!recipe) throw new UsageError(`${dir}: no recipe (give --recipe or [build] recipe in atom.toml)`);
  let sources: SourceSpec[] = (opts.source ?? []).map((s, i) => {
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch {
      throw new UsageError(
        `--source #${i + 1}: not JSON (e.g. {"kind":"path","path":"x.tar","digest":"blake3:…"})`,
      );
    }
    return parseSourceSpec(v, `--source #${i + 1}`);
  });
  if (sources.length === 0) sources = m.sources;
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
    label: opts.label ?? m.label ?? dir.split('/').pop()!,
    version: opts.atomVersion ?? m.version ?? '0.0.0',
    recipe,
    args: opts.arg ?? m.args ?? [],
    ...(m.script !== undefined ? { script: m.script } : {}),
    sources,
    deps,
    baseDir: dir,
    ...(opts.aptDir ? { aptDir: opts.aptDir } : {}),
    ...(opts.signKey ? { signKey: { config: configDir(), name: opts.signKey } } : {}),
    ...(opts.jobs ? { jobs: Number(opts.jobs) } : {}),
    ...(opts.timeout ? { timeoutMs: Number(opts.timeout) * 1000 } : {}),
  });
  return {
    lines: [
      `ok\t${r.record.label}\t${r.output}\t${r.recordDigest}`,
      ...r.warnings.map((w) => `warning\t${w}`),
    ],
    json: {
      version: 1,
      output: r.output,
      record: r.record,
      recordDigest: r.recordDigest,
      signature: r.signature ?? null,
    },
    notes: [`built ${r.record.label} in ${r.record.durationMs} ms; world ${r.world.root}; log ${r.logPath}`],
  };
}
