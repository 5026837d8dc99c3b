/**
 * Arguments shared by `eos stack`, `eos deploy`, `eos rollback` and `eos host …`: the host root,
 * the target transport and the argv that runs this very `eos` (for the host's detached helpers).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { StackError, UsageError } from '../kernel/errors.ts';
import type { Store } from '../kernel/index.ts';
import { DEFAULT_HOST_ROOT, openTransport, type ComposeLock, type Transport } from '../../stacks/index.ts';

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

/**
 * How `eos stack check` and `eos deploy` evaluate a stack's `{ lock = … }` compositions: `eos build`
 * of the lock into `store` (cached actions are not run again), then its runtime composition stored
 * (as `eos build --compose` does, without writing a TOML file). The build's result lines go to
 * stderr, so stdout keeps the command's own lines.
 * @throws StackError E33 (located by the caller) when some action fails, naming the failures
 * @see specs/stack.md §4.1
 */
export function lockComposer(store: Store): ComposeLock {
  return async ({ lock, seedLock }) => {
    // loaded here: the host verbs share this module and need no build system
    const { buildLock } = await import('../build/index.ts');
    const seen: string[] = [];
    const r = await buildLock({
      lock,
      seedLock,
      store,
      compose: true,
      onLine: (l) => {
        seen.push(l);
        process.stderr.write(`${l}\n`);
      },
    });
    if (r.composition) return r.composition.root;
    const failed = [...seen, ...r.lines]
      .filter((l, i, all) => l.startsWith('FAIL\t') && all.indexOf(l) === i)
      .map((l) => l.split('\t').slice(1, 3).join(': '));
    throw new StackError(
      `the build failed (exit ${r.exitCode})${failed.length ? `: ${failed.join('; ')}` : ''}`,
      { data: { lock, exitCode: r.exitCode } },
    );
  };
}
