/**
 * `eos interface check --old PATH --new PATH --consumers PATH,…`: the coverage check. Each PATH
 * may also be a tree digest in the store. Prints
 * `covered` or `not covered` with one `missing` line per missing version node or symbol, and the
 * proof's digest; `--json` prints the proof. Exit 0 when covered, 3 when not.
 * @see specs/interface.md §6
 */
import { UsageError } from '../kernel/errors.ts';
import { checkCoverage, interfaceManifestOf, type InterfaceManifest } from '../../extractors/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos interface check`. */
export interface InterfaceCheckOptions extends GlobalOptions {
  old: string;
  new: string;
  /** Comma-separated paths. */
  consumers: string;
}

/**
 * Reads the three kinds of trees, runs the check and returns the verdict.
 * @throws UsageError E1 when the consumer list is empty
 * @throws NotFoundError E4, IoError E12, ElfFormatError E15 from the reader
 */
export async function run(opts: InterfaceCheckOptions): Promise<CommandResult> {
  const consumerPaths = opts.consumers
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (consumerPaths.length === 0) throw new UsageError('eos interface check: --consumers names no path');
  const consumers: InterfaceManifest[] = [];
  for (const p of consumerPaths) consumers.push(await interfaceManifestOf(p, opts.store));
  const { proof, digest } = checkCoverage(
    consumers,
    await interfaceManifestOf(opts.old, opts.store),
    await interfaceManifestOf(opts.new, opts.store),
  );
  const lines = [proof.verdict === 'covered' ? 'covered' : 'not covered'];
  for (const [soname, m] of Object.entries(proof.missing)) {
    for (const v of m.versions) lines.push(['missing', soname, `version ${v}`].join('\t'));
    for (const s of m.symbols) lines.push(['missing', soname, s].join('\t'));
  }
  for (const [soname, ws] of Object.entries(proof.missingWeak))
    for (const s of ws) lines.push(['missing-weak', soname, s].join('\t'));
  for (const [soname, ds] of Object.entries(proof.old.interfaces))
    lines.push(
      [
        'interface',
        soname,
        `old=${ds.join(',') || '-'}`,
        `new=${proof.new.interfaces[soname]?.join(',') || '-'}`,
      ].join('\t'),
    );
  lines.push(['proof', digest].join('\t'));
  return { lines, json: proof, exitCode: proof.verdict === 'covered' ? 0 : 3 };
}
