/**
 * `eos rollback [--target URL] [--to N]`: the client-side shorthand of `eos host rollback`, through
 * the target's transport (SSH or local): one rename on the host, then activation.
 * @see specs/host.md §4.3
 */
import { ActivationError } from '../kernel/index.ts';
import { rollbackVia, type ActivationResult } from '../../stacks/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';
import { intArg, transportArg, type TargetOptions } from './stacks-args.ts';

/** Options of `eos rollback`. */
export interface RollbackOptions extends GlobalOptions, TargetOptions {
  to?: string;
}

/** Formats a rollback's result lines (shared with `eos host rollback`). */
export function rollbackLines(
  from: number | null,
  to: number,
  result: ActivationResult | null,
  where: string,
): CommandResult {
  const lines = [`rollback\t${from ?? '-'}\t${to}\t${where}`];
  for (const n of result?.restart ?? []) lines.push(`restart\t${n}`);
  for (const n of result?.start ?? []) lines.push(`start\t${n}`);
  for (const n of result?.stop ?? []) lines.push(`stop\t${n}`);
  for (const f of result?.failed ?? []) lines.push(`FAIL\t${f.name}\t${f.error}`);
  lines.push(`generation\t${to}\t${where}`);
  const json = { version: 1, from, generation: to, result };
  return result?.failed.length ? { lines, json, exitCode: ActivationError.exitCode } : { lines, json };
}

/** Runs `eos rollback`. @throws HostError E37, TransportError E36 */
export async function run(opts: RollbackOptions): Promise<CommandResult> {
  const t = transportArg(opts);
  const h = await rollbackVia(t, intArg(opts.to, '--to'));
  const out = rollbackLines(
    (h.from as number | null) ?? null,
    h.generation as number,
    h.result as ActivationResult,
    t.url,
  );
  const note = `eos: flipped current to generation ${String(h.generation)} in ${(Number(h.flipUs) / 1000).toFixed(3)} ms on ${t.url} (one rename)`;
  return { ...out, notes: [note] };
}
