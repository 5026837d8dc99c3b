/**
 * Core metadata (`METADATA` in a `.dist-info`, `PKG-INFO` in an `.egg-info`): an RFC 822 style
 * header block (`Name: value` lines, continuation lines start with whitespace, the block ends at
 * the first empty line), then the description. Only `Name` and `Version` are read; both are
 * required by the core metadata specification. Pure; never throws on bad input.
 *
 * @see specs/interface-python.md §3
 */

/** Name and version of a distribution, or the reason they could not be read. */
export interface DistributionMetadata {
  /** `Name:` as written (not normalized), or null. */
  name: string | null;
  /** `Version:` as written, or null. */
  version: string | null;
  /** Problems (missing field, bad encoding), empty when both were read. */
  problems: string[];
}

/**
 * Reads `Name` and `Version` from core-metadata bytes (UTF-8). The first occurrence of each
 * header counts; header names are case-insensitive; values are trimmed.
 * @see specs/interface-python.md §3
 */
export function parseMetadata(bytes: Uint8Array): DistributionMetadata {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { name: null, version: null, problems: ['metadata is not valid UTF-8'] };
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const headers = new Map<string, string>();
  // The header a continuation line extends; null when that header is a repeat (ignored).
  let current: string | null = null;
  for (const line of text.split(/\r\n|\n|\r/)) {
    if (line === '') break;
    if (line[0] === ' ' || line[0] === '\t') {
      if (current !== null) headers.set(current, `${headers.get(current)!}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    const key = colon > 0 ? line.slice(0, colon).trim().toLowerCase() : null;
    if (key === null || headers.has(key)) {
      current = null;
      continue;
    }
    headers.set(key, line.slice(colon + 1).trim());
    current = key;
  }
  const name = headers.get('name') || null;
  const version = headers.get('version') || null;
  const problems: string[] = [];
  if (name === null) problems.push('no Name header');
  if (version === null) problems.push('no Version header');
  return { name, version, problems };
}

/**
 * Reads `top_level.txt`: one module name per line; blank lines are skipped; names are trimmed.
 * @returns the sorted, deduplicated names, or null when the bytes are not UTF-8
 */
export function parseTopLevel(bytes: Uint8Array): string[] | null {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  const names = new Set<string>();
  for (const l of text.split(/\r\n|\n|\r/)) if (l.trim() !== '') names.add(l.trim());
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
