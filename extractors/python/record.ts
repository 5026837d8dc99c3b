/**
 * The `RECORD` file of a `*.dist-info` directory (PEP 376, PEP 427 / the binary distribution
 * format): a CSV file with one row per installed file, `path,hash,size`, where `hash` is
 * `<algorithm>=<urlsafe-base64 digest without padding>` and `size` a decimal byte count. Rows for
 * files that cannot carry their own hash (the RECORD itself, bytecode caches) leave both empty.
 * Pure: bytes in, rows and row problems out; nothing here throws on bad input.
 *
 * @see specs/interface-python.md §4
 */
import { createHash } from 'node:crypto';

/** One row of a RECORD file. */
export interface RecordEntry {
  /** The path as written (relative to the directory that holds the `.dist-info`, `/`-separated). */
  path: string;
  /** Hash algorithm (`sha256`, …) or null when the row has no hash. */
  algorithm: string | null;
  /** The urlsafe-base64 digest without padding, as written, or null. */
  digest: string | null;
  /** The size in bytes, or null when the row has none. */
  sizeBytes: number | null;
  /** 1-based line where the row starts (for located problems). */
  line: number;
}

/** A RECORD row that could not be read. */
export interface RecordRowProblem {
  /** 1-based line where the row starts (0: the whole file). */
  line: number;
  message: string;
}

/** The decoded rows of a RECORD file and the rows that were malformed. */
export interface ParsedRecord {
  entries: RecordEntry[];
  malformed: RecordRowProblem[];
}

/** Hash algorithms a RECORD may use that this extractor checks (hashlib names → node names). */
export const RECORD_HASH_ALGORITHMS: Readonly<Record<string, string>> = {
  sha224: 'sha224',
  sha256: 'sha256',
  sha384: 'sha384',
  sha512: 'sha512',
};

/**
 * Splits CSV text the way Python's `csv.reader` with the default (excel) dialect does: `,`
 * separates fields, `"` quotes a field (a doubled `""` inside is one quote), a quoted field may
 * hold commas and line breaks; rows end at `\n`, `\r\n` or `\r`. Empty lines give no row.
 * @returns rows with their 1-based starting line numbers
 */
export function splitCsv(text: string): { fields: string[]; line: number }[] {
  const rows: { fields: string[]; line: number }[] = [];
  const n = text.length;
  let i = 0;
  let line = 1;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) {
      // An empty line gives no row.
      i += c === 13 && text.charCodeAt(i + 1) === 10 ? 2 : 1;
      line++;
      continue;
    }
    const rowLine = line;
    const fields: string[] = [];
    for (;;) {
      let field: string;
      if (text.charCodeAt(i) === 34) {
        // A quoted field: up to the closing quote; "" is one quote; then text up to , or the end.
        const parts: string[] = [];
        let j = i + 1;
        for (;;) {
          const q = text.indexOf('"', j);
          if (q < 0) {
            parts.push(text.slice(j));
            j = n;
            break;
          }
          parts.push(text.slice(j, q));
          if (text.charCodeAt(q + 1) === 34) {
            parts.push('"');
            j = q + 2;
          } else {
            j = q + 1;
            break;
          }
        }
        field = parts.join('');
        for (const ch of field) if (ch === '\n') line++;
        let k = j;
        while (k < n && !isBreak(text.charCodeAt(k)) && text.charCodeAt(k) !== 44) k++;
        field += text.slice(j, k);
        i = k;
      } else {
        let k = i;
        while (k < n && !isBreak(text.charCodeAt(k)) && text.charCodeAt(k) !== 44) k++;
        field = text.slice(i, k);
        i = k;
      }
      fields.push(field);
      if (i < n && text.charCodeAt(i) === 44) {
        i++;
        continue;
      }
      break;
    }
    rows.push({ fields, line: rowLine });
    if (i < n) {
      i += text.charCodeAt(i) === 13 && text.charCodeAt(i + 1) === 10 ? 2 : 1;
      line++;
    }
  }
  return rows;
}

function isBreak(c: number): boolean {
  return c === 10 || c === 13;
}

/**
 * Decodes a RECORD file. A row must have three fields (a fourth and later are tolerated only when
 * empty); the hash field is empty or `algorithm=digest`; the size field is empty or a decimal
 * integer. Bad rows are returned as problems, never thrown.
 * @see specs/interface-python.md §4
 */
export function parseRecord(bytes: Uint8Array): ParsedRecord {
  const entries: RecordEntry[] = [];
  const malformed: RecordRowProblem[] = [];
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { entries, malformed: [{ line: 0, message: 'RECORD is not valid UTF-8' }] };
  }
  for (const r of splitCsv(text)) {
    const line = r.line;
    const f = r.fields;
    if (f.length < 3 || f.slice(3).some((x) => x !== '')) {
      malformed.push({ line, message: `expected 3 fields (path,hash,size), found ${f.length}` });
      continue;
    }
    const [path, hash, size] = f as [string, string, string];
    if (path === '') {
      malformed.push({ line, message: 'empty path' });
      continue;
    }
    let algorithm: string | null = null;
    let digest: string | null = null;
    if (hash !== '') {
      const eq = hash.indexOf('=');
      if (eq <= 0) {
        malformed.push({ line, message: `hash ${JSON.stringify(hash)} is not algorithm=digest` });
        continue;
      }
      algorithm = hash.slice(0, eq);
      digest = hash.slice(eq + 1);
    }
    let sizeBytes: number | null = null;
    if (size !== '') {
      const n = Number(size);
      if (!/^[0-9]+$/.test(size) || !Number.isSafeInteger(n)) {
        malformed.push({ line, message: `size ${JSON.stringify(size)} is not a byte count` });
        continue;
      }
      sizeBytes = n;
    }
    entries.push({ path, algorithm, digest, sizeBytes, line });
  }
  return { entries, malformed };
}

/**
 * The RECORD-style hash of some bytes: urlsafe base64 of the digest without `=` padding.
 * @param algorithm a key of RECORD_HASH_ALGORITHMS
 */
export function recordHash(algorithm: string, bytes: Uint8Array): string {
  const node = RECORD_HASH_ALGORITHMS[algorithm];
  if (node === undefined) throw new RangeError(`unsupported RECORD hash algorithm ${algorithm}`);
  return createHash(node).update(bytes).digest('base64url');
}

/**
 * Resolves a RECORD path against the directory holding the `.dist-info` (`base`, relative to the
 * tree root, `''` for the root): `.` and `..` components are applied; null when the path is
 * absolute or leaves the tree (e.g. pip's `../../../bin/pip`).
 */
export function resolveRecordPath(base: string, path: string): string | null {
  if (path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path)) return null;
  // The common case: nothing to normalize.
  if (!/(^|[/\\])\.\.?([/\\]|$)|\\|\/\/|\/$/.test(path)) return base === '' ? path : `${base}/${path}`;
  const parts = base === '' ? [] : base.split('/');
  for (const c of path.replaceAll('\\', '/').split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (parts.length === 0) return null;
      parts.pop();
    } else parts.push(c);
  }
  return parts.length === 0 ? null : parts.join('/');
}
