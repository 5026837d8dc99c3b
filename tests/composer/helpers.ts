/** Shared helpers of the composer suites: a temp workspace and running the real `eos` CLI. */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');
const bin = join(repoRoot, 'bin', 'eos.mjs');

/** A fresh temp directory. */
export function tempDir(prefix = 'eos-compose-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Result of one CLI run. */
export interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `eos ARGS` with the given store and config directory, synchronously. */
export function eos(
  ws: { store: string; config: string; cwd?: string },
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Cli {
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, [bin, ...args], {
    cwd: ws.cwd ?? repoRoot,
    encoding: 'utf8',
    env: { ...process.env, EOS_STORE: ws.store, EOS_CONFIG_DIR: ws.config, ...env },
    timeout: 120_000,
  });
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}
