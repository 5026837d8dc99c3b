/**
 * `eos fetch ATOM_DIR --record|--replay`: runs the atom's `[fetch]` action with the network only
 * through the fetch proxy (specs/fetch.md). `--record` passes requests through and writes
 * `ATOM_DIR/fetch.lock` (temp + fsync + rename; an existing lock's digests must still hold: E13);
 * `--replay` serves only that lock (E53 for anything else). Prints
 * `ok\tLABEL\tFETCH_TREE\tENTRIES\tLOCK_DIGEST`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { encodeFetchLock, runFetchAction } from '../../executor/index.ts';
import { writeFileAtomic } from '../kernel/atomic-write.ts';
import { digestBytes } from '../kernel/digest.ts';
import { ManifestError, UsageError } from '../kernel/errors.ts';
import { parseEnvArgs, readAtomDir, readFetchLock } from './build-atom.ts';
import { positiveInt, secondsToMs } from './options.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos fetch`. */
export interface FetchOptions extends GlobalOptions {
  path: string;
  record?: boolean;
  replay?: boolean;
  seedLock?: string;
  source?: string[];
  dep?: string[];
  env?: string[];
  jobs?: string;
  timeout?: string;
  aptDir?: string;
}

/**
 * Runs `eos fetch`.
 * @throws UsageError E1 (neither or both modes); ManifestError E16 (no `[fetch]`); FetchLockError
 *   E54; UnrecordedRequestError E53; RecordingMissingError E55; FixedOutputMismatchError E13;
 *   FetchProxyError E52; BuildFailedError E22 (the script failed)
 */
export async function run(opts: FetchOptions): Promise<CommandResult> {
  if (!!opts.record === !!opts.replay)
    throw new UsageError('eos fetch: give exactly one of --record, --replay');
  const jobs = positiveInt(opts.jobs, '--jobs');
  const timeoutMs = secondsToMs(opts.timeout, '--timeout');
  const env = parseEnvArgs(opts.env);
  const { dir, m, store, sources, deps, seed } = await readAtomDir(opts);
  if (!m?.fetch)
    throw new ManifestError(`${join(dir, 'atom.toml')}: no [fetch] table: the atom has nothing to fetch`);
  const lockPath = join(dir, 'fetch.lock');
  const lock = opts.replay || existsSync(lockPath) ? await readFetchLock(dir) : undefined;
  const r = await runFetchAction({
    store,
    seed,
    label: m.atom.label,
    version: m.atom.version,
    script: m.fetch.script,
    env: { ...m.fetch.env, ...env },
    sources,
    deps,
    mode: opts.record ? 'record' : 'replay',
    ...(lock ? { lock } : {}),
    baseDir: dir,
    ...(opts.aptDir ? { aptDir: opts.aptDir } : {}),
    ...(jobs !== undefined ? { jobs } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
  const bytes = encodeFetchLock(r.lock);
  if (opts.record) await writeFileAtomic(lockPath, bytes);
  const lockDigest = digestBytes(bytes);
  return {
    lines: [`ok\t${m.atom.label}\t${r.output}\t${r.lock.entries.length}\t${lockDigest}`],
    json: { version: 1, output: r.output, lock: r.lock, lockDigest, served: r.served, log: r.log },
    notes: [
      `${opts.record ? 'recorded' : 'replayed'} ${r.served} responses for ${m.atom.label} ${m.atom.version}; ` +
        `${opts.record ? `wrote ${lockPath}` : `served ${lockPath}`}; log ${r.logPath}`,
    ],
  };
}
