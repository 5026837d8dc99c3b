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

/**
 * Runs `eos ARGS` in this process (the real `main`, commands and store; no tsx start-up per call):
 * stdout/stderr are captured, cwd and environment set for the call and restored after.
 */
export async function eosIn(
  ws: { store: string; config: string; cwd?: string },
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<Cli> {
  const { main } = await import('../../src/cli/main.ts');
  const saved = { ...process.env };
  const cwd = process.cwd();
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  Object.assign(process.env, { EOS_STORE: ws.store, EOS_CONFIG_DIR: ws.config, ...env });
  process.chdir(ws.cwd ?? repoRoot);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'eos', ...args]);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    process.chdir(cwd);
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}
