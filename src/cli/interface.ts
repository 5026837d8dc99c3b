/**
 * `eos interface PATH`: the interface manifest of a file or directory on disk. Plain mode prints
 * one record per line (`so`, `exe`, `needs`, then `manifest`); `--json` prints the manifest itself.
 * @see specs/interface.md §3, §7
 */
import { UsageError } from '../errors.ts';
import { readInterfaceManifest, manifestDigest } from '../../extractors/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos interface`. */
export interface InterfaceOptions extends GlobalOptions {
  /** The file or directory to read. */
  path?: string;
}

/**
 * Builds the manifest of `opts.path` and returns it as lines and JSON.
 * @throws UsageError E1 when no path is given
 * @throws NotFoundError E4, IoError E12, ElfFormatError E15 from the reader
 */
export async function run(opts: InterfaceOptions): Promise<CommandResult> {
  if (!opts.path)
    throw new UsageError('eos interface: a PATH (file or directory) is required', {
      hint: 'eos interface /usr/lib/x86_64-linux-gnu/libssl.so.3, or eos interface check --old … --new … --consumers …',
    });
  const m = readInterfaceManifest(opts.path);
  const lines: string[] = [];
  for (const o of m.provides.sharedObjects)
    lines.push(
      [
        'so',
        o.path,
        o.soname ?? '-',
        `${o.symbols.length} symbols`,
        `versions=${o.versions.join(',') || '-'}`,
        o.interface,
      ].join('\t'),
    );
  for (const e of m.provides.executables) lines.push(['exe', e].join('\t'));
  for (const r of m.requires) {
    const nsyms = Object.values(r.symbols).reduce((a, s) => a + s.length, 0) + r.unversioned.length;
    const facts = [
      `interp=${r.interpreter ?? '-'}`,
      ...(r.rpath !== null ? [`rpath=${r.rpath}`] : []),
      ...(r.runpath !== null ? [`runpath=${r.runpath}`] : []),
      `${nsyms} symbols`,
    ];
    lines.push(['needs', r.path, r.needed.join(',') || '-', ...facts].join('\t'));
  }
  lines.push(['manifest', manifestDigest(m)].join('\t'));
  return { lines, json: m };
}
