/**
 * `eos lock [--dir DIR] [--set NAME=URL]… [--update LABEL]… [--prerelease] [--check]`: resolves the
 * workspace's atom.toml files against atom sets and writes `eos.lock`; `--check` verifies it instead.
 * Prints `LABEL\tVERSION\tSET\tRECORD-DIGEST` per pinned atom (`ok\teos.lock` for `--check`).
 * @see specs/lock.md §8
 */
import { checkWorkspaceLock, lockWorkspace, verifierFromConfig, type Lock } from '../../atoms/index.ts';
import { configDir } from '../kernel/config.ts';
import { UsageError } from '../kernel/errors.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

interface LockOpts extends GlobalOptions {
  dir?: string;
  set?: string[];
  update?: string[];
  prerelease?: boolean;
  check?: boolean;
}

function lines(lock: Lock): string[] {
  return Object.entries(lock.atoms).map(([label, a]) => `${label}\t${a.version}\t${a.set}\t${a.record}`);
}

export async function run(opts: LockOpts): Promise<CommandResult> {
  const root = opts.dir ?? '.';
  const verifier = await verifierFromConfig(configDir());
  if (opts.check) {
    if (opts.set?.length || opts.update?.length || opts.prerelease)
      throw new UsageError('--check takes no --set, --update or --prerelease');
    const lock = await checkWorkspaceLock(root, verifier);
    return {
      lines: ['ok\teos.lock'],
      json: { version: 1, ok: true, lock },
      notes: [`eos.lock: ${Object.keys(lock.atoms).length} pinned atom(s) verified`],
    };
  }
  let sets: Record<string, string> | undefined;
  if (opts.set?.length) {
    sets = {};
    for (const s of opts.set) {
      const i = s.indexOf('=');
      if (i <= 0 || i === s.length - 1) throw new UsageError(`--set: ${JSON.stringify(s)} is not NAME=URL`);
      sets[s.slice(0, i)] = s.slice(i + 1);
    }
  }
  const r = await lockWorkspace({
    root,
    ...(sets ? { sets } : {}),
    update: opts.update ?? [],
    ...(opts.prerelease ? { prerelease: true } : {}),
    verifier,
  });
  return {
    lines: lines(r.lock),
    json: { version: 1, changed: r.changed, lock: r.lock, stats: r.stats },
    notes: [
      ...r.warnings.map((w) => `warning: ${w}`),
      `${r.changed ? 'wrote' : 'unchanged'} eos.lock: ${Object.keys(r.lock.atoms).length} atom(s) from ${Object.keys(r.lock.sets).length} set(s); ${r.stats.solverCalls} solver call(s)`,
    ],
  };
}
