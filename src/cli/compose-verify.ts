/**
 * `eos compose verify ROOT [--for PURPOSE] [--accept-overrides]`: first re-checks every swapped
 * entry (specs/composition.md §5): a `satisfies` proof is recomputed and must match and cover
 * (`satisfies⇥NAME⇥PROOF⇥covered⇥N consumer(s)⇥M symbol(s)`; E30/E31/E32 otherwise), an
 * `override` is reported loudly (`OVERRIDE⇥NAME⇥PROOF⇥REASON` and its `missing` lines) and makes the
 * command exit 3 unless `--accept-overrides`. Then checks every signature kept beside the
 * composition for a purpose (default `compositions`): one line each, `ok\tKEYID\tNAME` or
 * `FAIL\tKEYID\tREASON`; fails (E10) unless at least one is accepted and none is rejected.
 * @see specs/composition.md §5, §11
 */
import { SignatureError, Store, UsageError, configDir, isPurpose, parseDigest } from '../kernel/index.ts';
import { CompositionStore, checkSwaps } from '../../composer/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/**
 * Runs `eos compose verify`.
 * @throws SwapProofMissingError E30, SwapProofMismatchError E31, NotCoveredError E32 (a swapped
 *   entry whose proof is absent, does not match, or does not cover); SignatureError E10 when the
 *   composition is not vouched for (as a note, exit 1)
 */
export async function run(
  opts: GlobalOptions & { root: string; for?: string; acceptOverrides?: boolean },
): Promise<CommandResult> {
  const root = parseDigest(opts.root, 'ROOT');
  const purpose = opts.for ?? 'compositions';
  if (!isPurpose(purpose)) throw new UsageError(`--for: ${JSON.stringify(purpose)} is not a purpose`);
  const cs = new CompositionStore(new Store(opts.store));
  const swaps = await checkSwaps(cs, root);
  const swapLines: string[] = [];
  const overrides = swaps.filter((s) => s.kind === 'override');
  for (const s of swaps) {
    if (s.kind === 'satisfies')
      swapLines.push(
        `satisfies\t${s.entry}\t${s.proof}\tcovered\t${s.consumers} consumer(s)\t${s.symbols} symbol(s)`,
      );
    else {
      swapLines.push(
        `OVERRIDE\t${s.entry}\t${s.proof}\treason ${JSON.stringify(s.reason)}\tnot covered: ${s.failures.length} missing`,
      );
      for (const f of s.failures) swapLines.push(`missing\t${f.consumer}\t${f.soname}\t${f.item}\t${f.why}`);
    }
  }
  const overrideNotes = overrides.map(
    (s) =>
      `eos: WARNING: entry ${s.entry} is an OVERRIDE: its proof ${s.proof} does not cover (${s.failures.length} missing); reason: ${JSON.stringify(s.reason)}`,
  );
  const overrideExit = overrides.length > 0 && !opts.acceptOverrides ? 3 : 0;
  const r = await cs.verify(root, configDir(), purpose);
  const lines = [
    ...swapLines,
    ...r.accepted.map((s) => `ok\t${s.key}\t${s.keyName}`),
    ...r.rejected.map(
      (x) => `FAIL\t${String(x.error.data.key ?? x.file)}\t${String(x.error.data.reason)}: ${x.error.detail}`,
    ),
  ];
  const json = {
    version: 1,
    root,
    purpose,
    ok: r.ok && overrideExit === 0,
    swaps,
    accepted: r.accepted.map((s) => ({ key: s.key, name: s.keyName })),
    rejected: r.rejected.map((x) => ({
      file: x.file,
      reason: x.error.data.reason,
      message: x.error.message,
    })),
  };
  if (r.ok)
    return {
      lines,
      json,
      ...(overrideNotes.length ? { notes: overrideNotes } : {}),
      ...(overrideExit ? { exitCode: overrideExit } : {}),
    };
  const why =
    r.accepted.length === 0 && r.rejected.length === 0
      ? `composition ${root} has no signature for "${purpose}"`
      : r.rejected.length
        ? `composition ${root}: ${r.rejected.length} signature(s) rejected`
        : `composition ${root}: no accepted signature for "${purpose}"`;
  // The per-signature lines are data; the verdict is one located E10 line on stderr.
  return { lines, json, notes: [...overrideNotes, `eos: ${new SignatureError(why).message}`], exitCode: 1 };
}
