/**
 * `eos.lock`: every dependency range of a workspace pinned to one published atom. Canonical TOML:
 * a fixed layout with sorted tables and keys and no timestamps, so the same resolution always
 * gives byte-identical files.
 *
 * Pure: `parseLock(text)` validates, `encodeLock(lock)` writes the canonical bytes.
 *
 * @see specs/lock.md
 */
import { LockError, isDigest, lazySchemas, parseTomlLocated, type Digest } from '../src/kernel/index.ts';
import { isLabel, isVersion } from './atom-manifest.ts';

/** The lock format version this code reads and writes. @see specs/lock.md §2 */
export const LOCK_VERSION = 1;

/** The first line of every lock file. */
export const LOCK_HEADER = '# eos.lock: written by `eos lock`; edit the atom.toml files, not this file.';

/** An atom set the lock resolved against. @see specs/lock.md §3 */
export interface LockSet {
  /** Where the set's repository is: a `file://` URL, an `http(s)://` URL, or a path. */
  url: string;
  /** The set's state at resolution time: the commit `refs/eos/set` pointed at (40 or 64 hex). */
  commit: string;
}

/** A workspace atom (an `atom.toml` of the workspace, not published). @see specs/lock.md §4 */
export interface LockWorkspaceAtom {
  /** Its directory relative to the workspace root (`.` for the root itself). */
  path: string;
  version: string;
  /** Labels it depends on (sorted); each is a workspace atom or a locked atom. */
  deps: string[];
}

/** A pinned, published atom. @see specs/lock.md §5 */
export interface LockAtom {
  version: string;
  /** The name of the set it came from (a key of `sets`). */
  set: string;
  /** The digest of its signed publish record. */
  record: Digest;
  /** The content digest of its tree (the store's tree digest). */
  content: Digest;
  /** Labels its chosen version depends on (sorted). */
  deps: string[];
}

/** A validated lock. */
export interface Lock {
  version: typeof LOCK_VERSION;
  /** Resolution let prereleases satisfy every range (`eos lock --prerelease`). */
  prerelease: boolean;
  sets: Record<string, LockSet>;
  workspace: Record<string, LockWorkspaceAtom>;
  atoms: Record<string, LockAtom>;
}

const SET_NAME = /^[a-z0-9][a-z0-9_-]*$/;
/** The lock's zod schema, made on first use (src/kernel/lazy-modules.ts). */
const lockSchema = lazySchemas((z) => {
  const label = z.string().refine(isLabel, 'is not a label');
  const version = z.string().refine(isVersion, 'is not a version');
  const digest = z.string().refine(isDigest, 'is not a digest (blake3:<64 lowercase hex>)');
  const deps = z.array(label);

  return z.strictObject({
    version: z.literal(LOCK_VERSION),
    prerelease: z.boolean().optional(),
    sets: z
      .record(
        z.string().regex(SET_NAME, 'is not a set name'),
        z.strictObject({
          url: z.string().min(1),
          commit: z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/),
        }),
      )
      .optional(),
    workspace: z.record(label, z.strictObject({ path: z.string().min(1), version, deps })).optional(),
    atoms: z
      .record(label, z.strictObject({ version, set: z.string(), record: digest, content: digest, deps }))
      .optional(),
  });
});

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedKeys<T>(o: Record<string, T>): string[] {
  return Object.keys(o).sort(cmp);
}

/**
 * Parses and validates an `eos.lock`. Any valid TOML with this shape is read; `encodeLock` of the
 * result is the canonical form.
 * @param text the file's text
 * @param fileName for messages
 * @throws LockError E19 for TOML errors, schema violations (located: `eos.lock:7: atoms.curl.record: …`),
 *   an unknown format version, an atom naming an unknown set, or an edge to a label not in the lock
 * @see specs/lock.md
 */
export function parseLock(text: string, fileName = 'eos.lock'): Lock {
  const { doc, lineOf } = parseTomlLocated(text, fileName, LockError);
  const fail = (path: (string | number)[], message: string): never => {
    const line = lineOf(path);
    throw new LockError(
      `${fileName}${line === undefined ? '' : `:${line}`}: ${path.join('.') || '(top level)'}: ${message}`,
      {
        data: { file: fileName, path: path.join('.'), ...(line === undefined ? {} : { line }) },
      },
    );
  };
  const v = (doc as { version?: unknown }).version;
  if (v !== LOCK_VERSION)
    fail(
      ['version'],
      v === undefined
        ? 'missing'
        : `format version ${JSON.stringify(v)} is not supported (this Eos reads ${LOCK_VERSION})`,
    );
  const r = lockSchema().safeParse(doc, { reportInput: true });
  if (!r.success) {
    const iss = r.error.issues[0]!;
    const path = iss.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (iss.code === 'unrecognized_keys') fail([...path, iss.keys[0]!], 'unknown field');
    const input = (iss as { input?: unknown }).input;
    if (iss.code === 'invalid_type' && input === undefined) fail(path, 'required field is missing');
    fail(
      path,
      input !== undefined && typeof input !== 'object'
        ? `${JSON.stringify(input)} ${iss.message}`
        : iss.message,
    );
  }
  const d = r.data!;
  const lock: Lock = {
    version: LOCK_VERSION,
    prerelease: d.prerelease ?? false,
    sets: {},
    workspace: {},
    atoms: {},
  };
  for (const k of sortedKeys(d.sets ?? {}))
    lock.sets[k] = { url: d.sets![k]!.url, commit: d.sets![k]!.commit };
  for (const k of sortedKeys(d.workspace ?? {})) {
    const w = d.workspace![k]!;
    lock.workspace[k] = { path: w.path, version: w.version, deps: [...w.deps].sort(cmp) };
  }
  for (const k of sortedKeys(d.atoms ?? {})) {
    const a = d.atoms![k]!;
    if (k in lock.workspace) fail(['atoms', k], `${k} is also a workspace atom`);
    if (!(a.set in lock.sets)) fail(['atoms', k, 'set'], `set ${JSON.stringify(a.set)} is not in [sets]`);
    lock.atoms[k] = {
      version: a.version,
      set: a.set,
      record: a.record as Digest,
      content: a.content as Digest,
      deps: [...a.deps].sort(cmp),
    };
  }
  for (const [table, entries] of [
    ['workspace', lock.workspace],
    ['atoms', lock.atoms],
  ] as const)
    for (const [k, e] of Object.entries(entries))
      for (const dep of e.deps)
        if (!(dep in lock.atoms) && !(dep in lock.workspace))
          fail([table, k, 'deps'], `${k} depends on ${dep}, which is not in the lock`);
  return lock;
}

/** A TOML key: bare when it can be, else a basic string. */
function key(k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k);
}

/** A TOML basic string (JSON's escapes are valid TOML escapes; non-ASCII stays UTF-8). */
function str(s: string): string {
  return JSON.stringify(s);
}

function list(xs: readonly string[]): string {
  return `[${xs.map(str).join(', ')}]`;
}

/**
 * Encodes a lock canonically: the header comment, `version` (and `prerelease = true` if set), then
 * `[sets.*]`, `[workspace.*]`, `[atoms.*]`, each table's entries sorted by name (UTF-16 code unit
 * order, which equals byte order for the ASCII names allowed here), keys sorted, one blank line
 * between tables, LF line ends, a final newline.
 * @param lock a lock (its arrays need not be sorted; they are sorted here)
 * @returns the file's text
 * @see specs/lock.md §6
 */
export function encodeLock(lock: Lock): string {
  const out: string[] = [LOCK_HEADER, `version = ${LOCK_VERSION}`];
  if (lock.prerelease) out.push('prerelease = true');
  const table = (name: string, fields: [string, string][]): void => {
    out.push('', `[${name}]`);
    for (const [k, v] of fields.sort((a, b) => cmp(a[0], b[0]))) out.push(`${key(k)} = ${v}`);
  };
  for (const k of sortedKeys(lock.sets)) {
    const s = lock.sets[k]!;
    table(`sets.${key(k)}`, [
      ['commit', str(s.commit)],
      ['url', str(s.url)],
    ]);
  }
  for (const k of sortedKeys(lock.workspace)) {
    const w = lock.workspace[k]!;
    table(`workspace.${key(k)}`, [
      ['deps', list([...w.deps].sort(cmp))],
      ['path', str(w.path)],
      ['version', str(w.version)],
    ]);
  }
  for (const k of sortedKeys(lock.atoms)) {
    const a = lock.atoms[k]!;
    table(`atoms.${key(k)}`, [
      ['content', str(a.content)],
      ['deps', list([...a.deps].sort(cmp))],
      ['record', str(a.record)],
      ['set', str(a.set)],
      ['version', str(a.version)],
    ]);
  }
  return out.join('\n') + '\n';
}
