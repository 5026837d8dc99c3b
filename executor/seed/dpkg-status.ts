/**
 * The dpkg status database, parsed, and the dependency closure of a package set over it (the
 * `host` seed mode). Pure: takes the text of `/var/lib/dpkg/status`.
 *
 * @see specs/seed.md §4
 */
import { SeedError } from '../../src/kernel/index.ts';

/** One installed package. */
export interface DpkgPackage {
  name: string;
  version: string;
  arch: string;
  /** `Depends` and `Pre-Depends`: each element a list of alternatives (package names, no versions). */
  depends: string[][];
  /** Virtual packages it provides. */
  provides: string[];
}

function deps(field: string | undefined): string[][] {
  if (!field) return [];
  return field
    .split(',')
    .map((alt) =>
      alt
        .split('|')
        .map((a) =>
          a
            .trim()
            .replace(/\s*\(.*\)\s*$/, '')
            .replace(/:any$/, '')
            .trim(),
        )
        .filter(Boolean),
    )
    .filter((a) => a.length > 0);
}

/** Parses `/var/lib/dpkg/status`, keeping only installed packages (`install ok installed`, or with triggers pending/awaited). */
export function parseDpkgStatus(text: string): Map<string, DpkgPackage> {
  const out = new Map<string, DpkgPackage>();
  for (const stanza of text.split(/\n\n+/)) {
    const f = new Map<string, string>();
    let last = '';
    for (const line of stanza.split('\n')) {
      if (/^\s/.test(line)) {
        if (last) f.set(last, `${f.get(last)}\n${line}`);
        continue;
      }
      const i = line.indexOf(':');
      if (i < 0) continue;
      last = line.slice(0, i);
      f.set(last, line.slice(i + 1).trim());
    }
    const name = f.get('Package');
    if (!name || !/^install ok (installed|triggers-pending|triggers-awaited)$/.test(f.get('Status') ?? ''))
      continue;
    out.set(name, {
      name,
      version: f.get('Version') ?? '',
      arch: f.get('Architecture') ?? 'all',
      depends: [...deps(f.get('Pre-Depends')), ...deps(f.get('Depends'))],
      provides: deps(f.get('Provides')).flat(),
    });
  }
  return out;
}

/**
 * The dependency closure of `roots` over installed packages: for each dependency, the first
 * alternative that is installed (or provided by an installed package, the provider with the
 * smallest name). Returned sorted by name.
 * @throws SeedError E24 when a root is not installed or a dependency has no installed alternative
 */
export function dependencyClosure(installed: Map<string, DpkgPackage>, roots: string[]): DpkgPackage[] {
  const providers = new Map<string, string[]>();
  for (const p of installed.values())
    for (const v of p.provides) providers.set(v, [...(providers.get(v) ?? []), p.name].sort());
  const seen = new Map<string, DpkgPackage>();
  const stack = roots.map((r) => {
    const p = installed.get(r);
    if (!p)
      throw new SeedError(`seed package ${r} is not installed on this host (host mode)`, {
        data: { package: r },
      });
    return p;
  });
  while (stack.length) {
    const p = stack.pop()!;
    if (seen.has(p.name)) continue;
    seen.set(p.name, p);
    for (const alts of p.depends) {
      let chosen: DpkgPackage | undefined;
      for (const a of alts) {
        chosen = installed.get(a) ?? installed.get(providers.get(a)?.[0] ?? '');
        if (chosen) break;
      }
      if (!chosen)
        throw new SeedError(`${p.name}: no installed package satisfies ${alts.join(' | ')} (host mode)`, {
          data: { package: p.name, dependency: alts },
        });
      stack.push(chosen);
    }
  }
  return [...seen.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
