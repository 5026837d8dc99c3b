/**
 * `eos host generations [--root DIR | --target URL]`: one line per generation:
 * `*|- NNN STACK/CHANNEL#SEQ DIGEST ACCEPTED-AT`, `*` marking the current one.
 * @see specs/host.md §3
 */
import { Host, listGenerations } from '../../stacks/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';
import { hostRootArg, transportArg, type TargetOptions } from './stacks-args.ts';

/** Options of `eos host generations`. */
export interface HostGenerationsOptions extends GlobalOptions, TargetOptions {
  root?: string;
}

interface Row {
  generation: number;
  stack: string;
  channel: string;
  sequence: number;
  digest: string;
  acceptedAt: number;
}

/** Runs `eos host generations`. @throws HostError E37, DeploymentError E34 */
export async function run(opts: HostGenerationsOptions): Promise<CommandResult> {
  let current: number | null;
  let rows: Row[];
  if (opts.target) {
    const h = await listGenerations(transportArg(opts));
    current = h.current as number | null;
    rows = h.generations as Row[];
  } else {
    const host = new Host(hostRootArg(opts.root));
    current = host.currentNumber() ?? null;
    rows = host.generationNumbers().map((n) => {
      const g = host.readGeneration(n);
      const d = g.deployment;
      return {
        generation: n,
        stack: d.stack,
        channel: d.channel,
        sequence: d.sequence,
        digest: g.digest,
        acceptedAt: g.acceptedAt,
      };
    });
  }
  const lines = rows.map(
    (r) =>
      `${r.generation === current ? '*' : '-'}\t${String(r.generation).padStart(3, '0')}\t${r.stack}/${r.channel}#${r.sequence}\t${r.digest}\t${new Date(r.acceptedAt * 1000).toISOString()}`,
  );
  return { lines, json: { version: 1, current, generations: rows } };
}
