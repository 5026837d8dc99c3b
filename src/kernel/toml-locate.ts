/**
 * Source positions for TOML: smol-toml parses values but reports no positions for keys, so this
 * scanner walks the text once and records the line of every table header, key, inline-table key and
 * array element, by its path (array-of-tables and array elements by index). It assumes the text
 * already parsed (it is lenient and never throws); the common layouts are exact: headers
 * `[a.b]`, `[[a]]`, dotted keys `a.b = 1`, quoted keys, inline tables, multi-line arrays and
 * multi-line strings.
 *
 * @see specs/atom.md §3 (located errors)
 */

/** A path into a TOML document: table/key names and array indices. */
export type TomlPath = readonly (string | number)[];

/** Lines (1-based) of the paths in a TOML text. */
export interface TomlLocations {
  /** The line where `path` is defined, or the line of its nearest located ancestor, or undefined. */
  lineOf(path: TomlPath): number | undefined;
}

function pathKey(path: TomlPath): string {
  return JSON.stringify(path);
}

const BARE = /[A-Za-z0-9_-]/;

/**
 * Scans a TOML text for the line of every header, key and array element.
 * @param text the TOML source (already known to parse)
 * @returns a lookup that falls back to the nearest located ancestor path
 */
export function locateToml(text: string): TomlLocations {
  const lines = new Map<string, number>();
  let i = 0;
  let line = 1;
  const n = text.length;

  const advance = (k = 1): void => {
    for (let j = 0; j < k && i < n; j++) {
      if (text[i] === '\n') line++;
      i++;
    }
  };
  const skipSpaces = (newlines: boolean): void => {
    while (i < n) {
      const c = text[i];
      if (c === ' ' || c === '\t' || c === '\r') advance();
      else if (c === '\n' && newlines) advance();
      else if (c === '#') {
        while (i < n && text[i] !== '\n') advance();
      } else break;
    }
  };
  const readBasic = (): string => {
    // at the opening quote
    advance();
    let s = '';
    while (i < n && text[i] !== '"' && text[i] !== '\n') {
      if (text[i] === '\\') {
        s += text.slice(i, i + 2);
        advance(2);
      } else {
        s += text[i];
        advance();
      }
    }
    advance();
    try {
      return JSON.parse(`"${s}"`) as string;
    } catch {
      return s;
    }
  };
  const readLiteral = (): string => {
    advance();
    const start = i;
    while (i < n && text[i] !== "'" && text[i] !== '\n') advance();
    const s = text.slice(start, i);
    advance();
    return s;
  };
  const readKey = (): string[] => {
    const parts: string[] = [];
    for (;;) {
      skipSpaces(false);
      const c = text[i];
      if (c === '"') parts.push(readBasic());
      else if (c === "'") parts.push(readLiteral());
      else {
        const start = i;
        while (i < n && BARE.test(text[i]!)) advance();
        if (i === start) return parts;
        parts.push(text.slice(start, i));
      }
      skipSpaces(false);
      if (text[i] === '.') advance();
      else return parts;
    }
  };
  const skipMultiline = (q: string): void => {
    advance(3);
    while (i < n) {
      if (q === '"' && text[i] === '\\') {
        advance(2);
        continue;
      }
      if (text.startsWith(q.repeat(3), i)) {
        advance(3);
        while (text[i] === q) advance();
        return;
      }
      advance();
    }
  };
  const readValue = (path: (string | number)[]): void => {
    skipSpaces(false);
    const c = text[i];
    if (c === '"' || c === "'") {
      if (text.startsWith(c.repeat(3), i)) skipMultiline(c);
      else if (c === '"') readBasic();
      else readLiteral();
    } else if (c === '[') {
      advance();
      let idx = 0;
      for (;;) {
        skipSpaces(true);
        if (i >= n || text[i] === ']') {
          advance();
          return;
        }
        if (text[i] === ',') {
          advance();
          continue;
        }
        const p = [...path, idx++];
        lines.set(pathKey(p), line);
        const before = i;
        readValue(p);
        if (i === before) advance();
      }
    } else if (c === '{') {
      advance();
      for (;;) {
        skipSpaces(true);
        if (i >= n || text[i] === '}') {
          advance();
          return;
        }
        if (text[i] === ',') {
          advance();
          continue;
        }
        const keyLine = line;
        const k = readKey();
        if (k.length === 0) {
          advance();
          continue;
        }
        const p = [...path, ...k];
        for (let j = 1; j <= k.length; j++) {
          const key = pathKey([...path, ...k.slice(0, j)]);
          if (!lines.has(key)) lines.set(key, keyLine);
        }
        skipSpaces(false);
        if (text[i] === '=') advance();
        readValue(p);
      }
    } else {
      while (i < n && !',]}\n#'.includes(text[i]!)) advance();
    }
  };

  // Array-of-tables: the current index of each array table, keyed by its path with indices.
  const arrayIndex = new Map<string, number>();
  const resolveHeader = (names: string[]): (string | number)[] => {
    const out: (string | number)[] = [];
    for (const name of names) {
      out.push(name);
      const idx = arrayIndex.get(pathKey(out));
      if (idx !== undefined) out.push(idx);
    }
    return out;
  };

  let table: (string | number)[] = [];
  while (i < n) {
    skipSpaces(true);
    if (i >= n) break;
    const startLine = line;
    if (text[i] === '[') {
      const isArray = text[i + 1] === '[';
      advance(isArray ? 2 : 1);
      const names = readKey();
      skipSpaces(false);
      advance(isArray ? 2 : 1);
      if (isArray) {
        const parent = resolveHeader(names.slice(0, -1));
        const arrPath = [...parent, names[names.length - 1]!];
        const k = pathKey(arrPath);
        const next = (arrayIndex.get(k) ?? -1) + 1;
        arrayIndex.set(k, next);
        if (!lines.has(k)) lines.set(k, startLine);
        table = [...arrPath, next];
      } else {
        table = resolveHeader(names);
      }
      lines.set(pathKey(table), startLine);
      continue;
    }
    const k = readKey();
    if (k.length === 0) {
      // Not a key: skip the rest of the line (cannot happen in valid TOML).
      while (i < n && text[i] !== '\n') advance();
      continue;
    }
    for (let j = 1; j <= k.length; j++) {
      const key = pathKey([...table, ...k.slice(0, j)]);
      if (!lines.has(key) || j === k.length) lines.set(key, startLine);
    }
    skipSpaces(false);
    if (text[i] === '=') advance();
    readValue([...table, ...k]);
  }

  return {
    lineOf(path: TomlPath): number | undefined {
      for (let len = path.length; len > 0; len--) {
        const l = lines.get(pathKey(path.slice(0, len)));
        if (l !== undefined) return l;
      }
      return undefined;
    },
  };
}
