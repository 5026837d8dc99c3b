/**
 * `eos interface PATH|TREE`: the interface manifest of a file or directory on disk, or of a tree
 * digest in the store (cached there). Plain mode prints
 * one record per line (`so`, `exe`, `needs`, then `manifest`); `--json` prints the manifest itself.
 * `eos interface --python PATH`: the Python manifest of an import root (specs/interface-python.md
 * §9); without `--python`, the plain output of a directory that is an import root (top-level
 * `*.dist-info`, `*.egg-info` or `*.py` entries) ends with its Python lines too.
 * @see specs/interface.md §3, §8, §9
 */
import { UsageError } from '../kernel/errors.ts';
import { interfaceManifestOf, manifestDigest, readPythonManifest } from '../../extractors/index.ts';
import { isImportRoot, pythonInterfaceLines } from './interface-python.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos interface`. */
export interface InterfaceOptions extends GlobalOptions {
  /** The file or directory to read. */
  path?: string;
  /** Read PATH as a Python import root instead (specs/interface-python.md). */
  python?: boolean;
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
  if (opts.python) {
    const pm = readPythonManifest(opts.path);
    return { lines: pythonInterfaceLines(pm), json: pm };
  }
  const m = await interfaceManifestOf(opts.path, opts.store);
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
  // An import root's Python part follows in plain mode (its JSON is `eos interface --python --json`).
  if (!opts.json && isImportRoot(opts.path))
    lines.push(...pythonInterfaceLines(readPythonManifest(opts.path)));
  return { lines, json: m };
}
