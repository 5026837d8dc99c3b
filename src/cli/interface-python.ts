/**
 * `eos interface --python PATH`: the Python interface manifest of an import root on disk (a
 * `site-packages` or `dist-packages` directory). Plain mode prints one record per line; `--json`
 * prints the manifest itself.
 * @see specs/interface-python.md §9
 */
import { readdirSync, statSync } from 'node:fs';
import { UsageError } from '../kernel/errors.ts';
import { readPythonManifest, pythonManifestDigest, type PythonManifest } from '../../extractors/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos interface --python`. */
export interface InterfacePythonOptions extends GlobalOptions {
  /** The import root to read. */
  path?: string;
}

/**
 * The plain-mode lines of a Python manifest: `dist`, then its `mismatch`/`missing`/`unrecorded`/
 * `malformed`/`problem` lines; `modules`; `ext`; `error` and `unresolved` per source file;
 * `requires` (top-level names imported from outside the tree); `manifest`.
 * @see specs/interface-python.md §9
 */
export function pythonInterfaceLines(m: PythonManifest): string[] {
  const lines: string[] = [];
  const row = (...f: (string | number)[]) => lines.push(f.join('\t'));
  for (const d of m.provides.distributions) {
    const r = d.record;
    const rec =
      r === null
        ? 'record=-'
        : `record=${r.ok ? 'ok' : 'FAIL'} (${r.verified} verified, ${r.mismatches.length} mismatched, ` +
          `${r.missing.length} missing, ${r.unrecorded.length} unrecorded)`;
    row(
      'dist',
      d.path,
      d.name ?? '-',
      d.version ?? '-',
      `top=${d.topLevel?.join(',') ?? '-'}`,
      `modules=${d.modules.join(',') || '-'}`,
      rec,
    );
    for (const x of r?.mismatches ?? []) row('mismatch', d.path, x.path, x.expected.hash, x.actual.hash);
    for (const p of r?.missing ?? []) row('missing', d.path, p);
    for (const p of r?.unrecorded ?? []) row('unrecorded', d.path, p);
    for (const x of r?.unsupported ?? []) row('unsupported', d.path, x.path, x.algorithm);
    for (const x of r?.malformed ?? []) row('malformed', d.path, `line ${x.line}`, x.message);
    for (const p of d.problems) row('problem', d.path, p);
  }
  row('modules', m.provides.modules.join(',') || '-');
  for (const e of m.requires.extensions)
    row('ext', e.path, e.module, e.error ?? `needed=${e.requires?.needed.join(',') || '-'}`);
  for (const f of m.requires.files) {
    if (f.error)
      row('error', f.path, `${f.error.line}:${f.error.column}`, `${f.error.kind}: ${f.error.message}`);
    for (const u of f.unresolved)
      row('unresolved', f.path, u.line, `${'.'.repeat(u.level)}${u.module ?? ''}`);
  }
  const required = new Set<string>();
  const optional = new Set<string>();
  for (const f of m.requires.files)
    for (const i of f.imports)
      if (i.scope === 'external') (i.optional ? optional : required).add(i.name.split('.')[0]!);
  for (const n of required) optional.delete(n);
  const list = (s: Set<string>) => [...s].sort().join(',') || '-';
  row(
    'requires',
    `${m.requires.files.length} files`,
    `external=${list(required)}`,
    `optional=${list(optional)}`,
  );
  row('manifest', pythonManifestDigest(m));
  return lines;
}

/**
 * True when `path` is a directory with a top-level `*.dist-info`, `*.egg-info` or `*.py` entry
 * (what `eos interface PATH` takes for a Python import root); false for anything unreadable.
 */
export function isImportRoot(path: string): boolean {
  try {
    if (!statSync(path).isDirectory()) return false;
    return readdirSync(path).some(
      (n) => n.endsWith('.dist-info') || n.endsWith('.egg-info') || n.endsWith('.py'),
    );
  } catch {
    return false;
  }
}

/**
 * Builds the Python manifest of `opts.path`.
 * @throws UsageError E1 when no path is given or it is not a directory
 * @throws NotFoundError E4, IoError E12 from the reader
 */
export async function run(opts: InterfacePythonOptions): Promise<CommandResult> {
  if (!opts.path)
    throw new UsageError(
      'eos interface --python: a PATH (an import root such as site-packages) is required',
      {
        hint: 'eos interface --python /usr/lib/python3/dist-packages',
      },
    );
  const m = readPythonManifest(opts.path);
  return { lines: pythonInterfaceLines(m), json: m };
}
