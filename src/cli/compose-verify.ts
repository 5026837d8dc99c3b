/**
 * `eos compose verify ROOT [--for PURPOSE]`: checks every signature kept beside a composition for
 * a purpose (default `compositions`): one line each, `ok\tKEYID\tNAME` or `FAIL\tKEYID\tREASON`;
 * fails (E10) unless at least one is accepted and none is rejected.
 * @see specs/composition.md §11
 */
import { SignatureError, Store, UsageError, configDir, isPurpose, parseDigest } from '../kernel/index.ts';
import { CompositionStore } from '../../composer/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Runs `eos compose verify`. @throws SignatureError E10 when the composition is not vouched for */
export async function run(opts: GlobalOptions & { root: string; for?: string }): Promise<CommandResult> {
  const root = parseDigest(opts.root, 'ROOT');
  const purpose = opts.for ?? 'compositions';
  if (!isPurpose(purpose)) throw new UsageError(`--for: ${JSON.stringify(purpose)} is not a purpose`);
  const r = await new CompositionStore(new Store(opts.store)).verify(root, configDir(), purpose);
  const lines = [
    ...r.accepted.map((s) => `ok\t${s.key}\t${s.keyName}`),
    ...r.rejected.map(
      (x) => `FAIL\t${String(x.error.data.key ?? x.file)}\t${String(x.error.data.reason)}: ${x.error.detail}`,
    ),
  ];
  const json = {
    version: 1,
    root,
    purpose,
    ok: r.ok,
    accepted: r.accepted.map((s) => ({ key: s.key, name: s.keyName })),
    rejected: r.rejected.map((x) => ({
      file: x.file,
      reason: x.error.data.reason,
      message: x.error.message,
    })),
  };
  if (r.ok) return { lines, json };
  const why =
    r.accepted.length === 0 && r.rejected.length === 0
      ? `composition ${root} has no signature for "${purpose}"`
      : r.rejected.length
        ? `composition ${root}: ${r.rejected.length} signature(s) rejected`
        : `composition ${root}: no accepted signature for "${purpose}"`;
  // The per-signature lines are data; the verdict is one located E10 line on stderr.
  return { lines, json, notes: [`eos: ${new SignatureError(why).message}`], exitCode: 1 };
}
