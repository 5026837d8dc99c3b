/**
 * Arguments shared by `eos stack`, `eos deploy`, `eos rollback` and `eos host …`: the host root,
 * the target transport and the argv that runs this very `eos` (for the host's detached helpers).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../kernel/errors.ts';
import { DEFAULT_HOST_ROOT, openTransport, type Transport } from '../../stacks/index.ts';

/**
 * The argv prefix that runs this `eos` (node and the checkout's bin/eos.mjs). This module runs
 * either from the sources (`src/cli/`) or compiled (`dist/src/cli/`, specs/cli.md), so the launcher
 * is two or three folders up: the first of those that exists.
 */
export function eosCommand(): string[] {
  const launcher = ['../../bin/eos.mjs', '../../../bin/eos.mjs']
    .map((rel) => fileURLToPath(new URL(rel, import.meta.url)))
    .find((p) => existsSync(p));
  if (!launcher) throw new Error(`no bin/eos.mjs above ${fileURLToPath(import.meta.url)}`);
  return [process.execPath, launcher];
}

/** `--root DIR`, else `$EOS_HOST_ROOT`, else `/var/lib/eos`. */
export function hostRootArg(root: unknown): string {
  if (typeof root === 'string' && root) return root;
  return process.env.EOS_HOST_ROOT || DEFAULT_HOST_ROOT;
}

/** Transport options of `eos deploy` / `eos rollback`. */
export interface TargetOptions {
  target?: string;
  knownHosts?: string;
  identity?: string;
  remoteEos?: string;
}

/** The transport for `--target` (default: the local host root `$EOS_HOST_ROOT` or /var/lib/eos). */
export function transportArg(o: TargetOptions): Transport {
  const target = o.target || `local:${hostRootArg(undefined)}`;
  return openTransport(target, {
    eosCommand: eosCommand(),
    ...(o.knownHosts ? { knownHosts: o.knownHosts } : {}),
    ...(o.identity ? { identity: o.identity } : {}),
    ...(o.remoteEos ? { remoteEos: o.remoteEos } : {}),
  });
}

/** Parses a non-negative integer option. @throws UsageError E1 */
export function intArg(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new UsageError(`${name}: ${JSON.stringify(v)} is not a non-negative integer`);
  return n;
}
