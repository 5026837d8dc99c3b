/**
 * The human surface of a composition: a short TOML file naming entries, each pointing at a tree
 * digest, a file digest, a symlink target, or a path to ingest. Parsing is pure; resolving `path`
 * entries (ingesting them into the store) is done by the I/O shell (composer/compose-store.ts).
 *
 * ```toml
 * [entries.libc]
 * at = "/"
 * tree = "blake3:…"
 *
 * [entries.dash]
 * at = "/usr/bin/dash"
 * path = "/usr/bin/dash"
 *
 * [precedence]
 * order = ["openssl", "toolchain"]
 * ```
 *
 * @see specs/composition.md §9
 */
import { CompositionError, isDigest, parseTomlLocated, type Digest } from '../src/kernel/index.ts';
import { checkEntryName, checkPrefix, type EntryNode } from './composition.ts';

/** Where an authored entry's node comes from. */
export type AuthoredSource =
  | { kind: 'node'; node: EntryNode }
  /** A path on this machine (relative to the TOML file's directory) to ingest. */
  | { kind: 'path'; path: string };

/** One authored entry, with the line it was declared on. */
export interface AuthoredEntry {
  name: string;
  at: string;
  source: AuthoredSource;
  line: number;
}

/** A parsed composition file, before `path` sources are ingested. */
export interface AuthoredComposition {
  entries: AuthoredEntry[];
  precedence: string[];
}

const SOURCE_KEYS = ['tree', 'file', 'symlink', 'path'] as const;
const ENTRY_KEYS = ['at', ...SOURCE_KEYS, 'executable'];

/**
 * Parses a composition TOML file.
 * @param text the file's text
 * @param file names the file in errors (`file:line: …`)
 * @throws CompositionError E18, located `file:line`, for TOML syntax errors, an entry defined twice
 *   (naming it), unknown keys, bad names or prefixes, zero or several sources, bad digests, and a
 *   precedence order naming unknown or repeated entries
 * @see specs/composition.md §9
 */
export function parseCompositionToml(text: string, file = 'composition.toml'): AuthoredComposition {
  const fail = (line: number, detail: string, data: Record<string, unknown> = {}): never => {
    throw new CompositionError(`${file}:${line}: ${detail}`, { data: { file, line, ...data } });
  };
  // Duplicate tables: name the entry (the TOML parser only says "redefine").
  const firstSeen = new Map<string, number>();
  text.split('\n').forEach((l, i) => {
    const m = /^\s*\[\s*entries\s*\.\s*("?)([^\]"]+)\1\s*\]/.exec(l);
    if (!m) return;
    const name = m[2]!.trim();
    const prev = firstSeen.get(name);
    if (prev !== undefined)
      fail(i + 1, `entry ${name} is defined twice (first at line ${prev})`, { name, entries: [name] });
    firstSeen.set(name, i + 1);
  });
  const { doc, lineOf } = parseTomlLocated(text, file, CompositionError, {
    syntax: (p) => `${file}:${p.line}: column ${p.column}: ${p.message}`,
  });
  /** The line of `[entries.NAME]` (or `[precedence]`) and of `key =` inside it; 1 when not found. */
  const loc = (name?: string, key?: string): number =>
    lineOf(
      name === undefined ? ['precedence', ...(key ? [key] : [])] : ['entries', name, ...(key ? [key] : [])],
    ) ?? 1;
  for (const k of Object.keys(doc))
    if (k !== 'entries' && k !== 'precedence') fail(1, `unknown table or key ${JSON.stringify(k)}`);
  const rawEntries = doc.entries ?? {};
  if (typeof rawEntries !== 'object' || Array.isArray(rawEntries)) fail(1, 'entries: expected a table');
  const entries: AuthoredEntry[] = [];
  for (const [name, raw] of Object.entries(rawEntries as Record<string, unknown>)) {
    const line = loc(name);
    try {
      checkEntryName(name, 'entries');
    } catch (e) {
      fail(line, (e as CompositionError).detail, { name });
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      fail(line, `entries.${name}: expected a table`, { name });
    const r = raw as Record<string, unknown>;
    for (const k of Object.keys(r))
      if (!ENTRY_KEYS.includes(k))
        fail(
          loc(name, k),
          `entries.${name}: unknown key ${JSON.stringify(k)} (expected at, ${SOURCE_KEYS.join(', ')})`,
          {
            name,
          },
        );
    if (r.at === undefined)
      fail(line, `entries.${name}: missing "at" (an absolute prefix such as "/usr")`, { name });
    let at: string;
    try {
      at = checkPrefix(r.at, `entries.${name}`);
    } catch (e) {
      return fail(loc(name, 'at'), (e as CompositionError).detail, { name });
    }
    const given = SOURCE_KEYS.filter((k) => r[k] !== undefined);
    if (given.length !== 1)
      fail(
        line,
        `entries.${name}: give exactly one of ${SOURCE_KEYS.join(', ')} (found ${given.length ? given.join(', ') : 'none'})`,
        { name },
      );
    const key = given[0]!;
    const v = r[key];
    const digestOf = (): Digest => {
      if (!isDigest(v))
        fail(
          loc(name, key),
          `entries.${name}.${key}: ${JSON.stringify(v)} is not a digest (blake3:<64 lowercase hex>)`,
          {
            name,
          },
        );
      return v as Digest;
    };
    if (r.executable !== undefined && (key !== 'file' || typeof r.executable !== 'boolean'))
      fail(
        loc(name, 'executable'),
        `entries.${name}.executable: only a "file" entry takes executable = true/false`,
        {
          name,
        },
      );
    let source: AuthoredSource;
    if (key === 'tree') source = { kind: 'node', node: { kind: 'tree', digest: digestOf() } };
    else if (key === 'file')
      source = {
        kind: 'node',
        node: { kind: 'file', digest: digestOf(), executable: r.executable === true },
      };
    else if (key === 'symlink') {
      if (typeof v !== 'string' || v === '' || v.includes('\0'))
        fail(loc(name, key), `entries.${name}.symlink: expected a non-empty target string`, { name });
      source = { kind: 'node', node: { kind: 'symlink', target: v as string } };
    } else {
      if (typeof v !== 'string' || v === '')
        fail(loc(name, key), `entries.${name}.path: expected a non-empty path string`, { name });
      source = { kind: 'path', path: v as string };
    }
    if (at === '/' && !(key === 'tree' || key === 'path'))
      fail(loc(name, 'at'), `entries.${name}: a ${key} cannot be bound at "/"`, { name });
    entries.push({ name, at, source, line });
  }
  let precedence: string[] = [];
  if (doc.precedence !== undefined) {
    const p = doc.precedence as Record<string, unknown>;
    const line = loc(undefined, 'order');
    if (typeof p !== 'object' || Array.isArray(p))
      fail(line, 'precedence: expected a table with order = [...]');
    for (const k of Object.keys(p))
      if (k !== 'order') fail(line, `precedence: unknown key ${JSON.stringify(k)}`);
    if (!Array.isArray(p.order) || p.order.some((x) => typeof x !== 'string'))
      fail(line, 'precedence.order: expected a list of entry names, highest precedence first');
    precedence = p.order as string[];
    const names = new Set(entries.map((e) => e.name));
    const seen = new Set<string>();
    for (const n of precedence) {
      if (!names.has(n))
        fail(line, `precedence.order: ${JSON.stringify(n)} is not an entry of this file`, { name: n });
      if (seen.has(n)) fail(line, `precedence.order: ${n} is listed twice`, { name: n });
      seen.add(n);
    }
  }
  return { entries, precedence };
}
