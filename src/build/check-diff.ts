/**
 * Why a rebuild differs (`eos build --check`): the first path, in tree order, where two output
 * trees differ, with a reason read from the bytes when it can tell (timestamps, build paths,
 * ordering, a mode bit, a symlink target, a file only on one side).
 *
 * @see specs/scheduler.md §8.3
 */
import type { Digest, Tree, TreeEntry } from '../kernel/index.ts';

/** The store operations the comparison needs (the kernel `Store` has them). */
export interface TreeReader {
  getTree(d: Digest): Promise<Tree>;
  readBlob(d: Digest): Promise<Uint8Array>;
}

/** The first difference between a recorded and a rebuilt output tree. */
export interface TreeDifference {
  /** Path relative to the output's root, `/`-separated. */
  path: string;
  /**
   * `timestamps`, `build-paths`, `ordering`, `content` (bytes differ, no pattern recognized),
   * `mode` (the executable bit), `symlink-target`, `kind` (file vs directory vs symlink),
   * `only-recorded` / `only-rebuilt` (a path on one side only).
   */
  reason: string;
  /** One line for a human: the reason and, for content, the offset and the two byte windows. */
  detail: string;
}

/** Largest file whose bytes are read to explain a difference (bigger: `content`, no window). */
const MAX_EXPLAIN_BYTES = 256 * 1024 * 1024;

const DATE_PATTERNS = [
  /\d{4}-\d{2}-\d{2}/, // 2026-12-02
  /\d{1,2}:\d{2}:\d{2}/, // 05:31:07
  /\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b\s+\d{1,2}/, // Dec  2
  /\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b/,
];
const PATH_PATTERN = /\/(?:tmp|build|var\/tmp|work)\/[^\s\0"']*/;

function printable(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
  return s;
}

function firstByteDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

function sameMultiset(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  const ca = new Uint32Array(256);
  const cb = new Uint32Array(256);
  for (const x of a) ca[x]!++;
  for (const x of b) cb[x]!++;
  return ca.every((v, i) => v === cb[i]);
}

/**
 * Classifies two differing byte strings (pure).
 * - `timestamps`: a gzip header's MTIME (bytes 4–7), a `.pyc` header's source mtime (bytes 8–11),
 *   or a date/time pattern in the windows around the first differing byte;
 * - `build-paths`: a scratch path (`/tmp/…`, `/build/…`) in either window;
 * - `ordering`: the same bytes in another order (same length, same byte counts, e.g. a reordered
 *   list or archive);
 * - `content` otherwise.
 */
export function classifyBytes(
  path: string,
  a: Uint8Array,
  b: Uint8Array,
): { reason: string; detail: string } {
  const at = firstByteDiff(a, b);
  const lo = Math.max(0, at - 24);
  const wa = printable(a.subarray(lo, at + 24));
  const wb = printable(b.subarray(lo, at + 24));
  const where = `first differing byte at offset ${at} (sizes ${a.length} and ${b.length}): "${wa}" vs "${wb}"`;
  if (a[0] === 0x1f && a[1] === 0x8b && b[0] === 0x1f && b[1] === 0x8b && at >= 4 && at < 8)
    return { reason: 'timestamps', detail: `gzip header MTIME differs; ${where}` };
  if (path.endsWith('.pyc') && at >= 8 && at < 12)
    return { reason: 'timestamps', detail: `.pyc header source mtime differs; ${where}` };
  if (DATE_PATTERNS.some((re) => re.test(wa) || re.test(wb)))
    return { reason: 'timestamps', detail: `a date or time near the difference; ${where}` };
  if (PATH_PATTERN.test(wa) || PATH_PATTERN.test(wb))
    return { reason: 'build-paths', detail: `a build or scratch path near the difference; ${where}` };
  if (sameMultiset(a, b)) return { reason: 'ordering', detail: `the same bytes in another order; ${where}` };
  return { reason: 'content', detail: where };
}

function kindOf(e: TreeEntry): string {
  return e.kind;
}

/**
 * The first difference (tree order: entries by name bytes, depth first) between two trees, or
 * undefined when they are the same tree.
 * @throws NotFoundError E4 when a tree or blob on the way is not in the store
 */
export async function firstDifference(
  store: TreeReader,
  recorded: Digest,
  rebuilt: Digest,
  prefix = '',
): Promise<TreeDifference | undefined> {
  if (recorded === rebuilt) return undefined;
  const [ta, tb] = await Promise.all([store.getTree(recorded), store.getTree(rebuilt)]);
  const ea = ta.entries;
  const eb = tb.entries;
  let i = 0;
  let j = 0;
  const cmp = (x: string, y: string): number => Buffer.compare(Buffer.from(x), Buffer.from(y));
  while (i < ea.length || j < eb.length) {
    const a = ea[i];
    const b = eb[j];
    if (a && (!b || cmp(a.name, b.name) < 0)) {
      const path = prefix + a.name;
      return { path, reason: 'only-recorded', detail: `${path} is in the recorded output only` };
    }
    if (b && (!a || cmp(b.name, a.name) < 0)) {
      const path = prefix + b.name;
      return { path, reason: 'only-rebuilt', detail: `${path} is in the rebuilt output only` };
    }
    i++;
    j++;
    const path = prefix + a!.name;
    if (kindOf(a!) !== kindOf(b!))
      return { path, reason: 'kind', detail: `a ${a!.kind} in the record, a ${b!.kind} in the rebuild` };
    if (a!.kind === 'symlink' && b!.kind === 'symlink') {
      if (a!.target !== b!.target)
        return { path, reason: 'symlink-target', detail: `-> ${a!.target} vs -> ${b!.target}` };
      continue;
    }
    if (a!.kind === 'directory' && b!.kind === 'directory') {
      const d = await firstDifference(store, a!.digest, b!.digest, `${path}/`);
      if (d) return d;
      continue;
    }
    if (a!.kind === 'file' && b!.kind === 'file') {
      if (a!.digest === b!.digest) {
        if (a!.executable !== b!.executable)
          return { path, reason: 'mode', detail: 'the executable bit differs' };
        continue;
      }
      if (a!.size > MAX_EXPLAIN_BYTES || b!.size > MAX_EXPLAIN_BYTES)
        return { path, reason: 'content', detail: `sizes ${a!.size} and ${b!.size} (too large to read)` };
      const [ba, bb] = await Promise.all([store.readBlob(a!.digest), store.readBlob(b!.digest)]);
      return { path, ...classifyBytes(path, ba, bb) };
    }
  }
  return undefined;
}
