/**
 * The stat memo: what was derived from a file (its blob digest, a parsed manifest, a parsed lock),
 * remembered under the file's stat signature (`stat` for a file read by name, `lstat` in a
 * directory walk), so that a later run that finds the same signature
 * reuses the value instead of reading and parsing the file again. Git's index (racy-git rule),
 * make's and ninja's mtime checks work the same way; what is remembered is only ever derived from
 * the file's bytes by this build of Eos (the memo is dropped whole when the code changes).
 *
 * File: `STORE/scheduler/stat-memo` (specs/scheduler.md §11.6), JSON
 * `{"format":"eos.stat-memo","version":1,"code":STAMP,"entries":{KIND "\u0000" PATH: [SIG, VALUE]}}`.
 * A missing, unreadable, malformed or other-code memo is an empty one (it is a cache).
 *
 * @see specs/scheduler.md §11.6
 */
import { readFileSync, statSync, type Stats } from 'node:fs';
import { writeFileAtomicSync } from './atomic-write.ts';

/** The memo file's `format`. */
export const STAT_MEMO_FORMAT = 'eos.stat-memo';
/** The memo file's `version`. */
export const STAT_MEMO_VERSION = 1;
/**
 * A file whose modification or status-change time is this close to (or after) the run's start is
 * not remembered: a write in the same clock tick as the `lstat` could leave the signature
 * unchanged (git's "racy clean" case). Milliseconds; far more than the kernel's coarse clock tick.
 */
export const RACY_MS = 2000;
/** Past this many entries, those not used by the run are dropped when the memo is saved. */
export const STAT_MEMO_MAX_ENTRIES = 100_000;

/**
 * The signature of a file's `stat` or `lstat`: device, inode, mode, size, modification and status-change
 * times (ms, with their sub-millisecond fraction). Any write to the file changes its status-change
 * time, which cannot be set back; a replacement by rename changes the inode.
 */
export function statSignature(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.mode}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/** The stat memo of a store: `STORE/scheduler/stat-memo`. */
export function statMemoPath(storeDir: string): string {
  return `${storeDir}/scheduler/stat-memo`;
}

/** A value remembered for one file, by kind (e.g. `blob`, `manifest`, `lock`). */
export interface StatMemo {
  /** The value remembered for `path` as `kind` when its signature is still `st`'s, else undefined. */
  get(kind: string, path: string, st: Stats): unknown;
  /**
   * Remembers `value` (JSON-serialisable) for `path` as `kind` under `st`'s signature; not when
   * the file changed within {@link RACY_MS} of the run's start.
   */
  set(kind: string, path: string, st: Stats, value: unknown): void;
  /** Writes the memo back (atomically) when this run added or changed an entry; never throws. */
  save(): void;
}

/** A memo that remembers nothing (sources run through tsx, a store that cannot be written). */
export const NO_STAT_MEMO: StatMemo = {
  get: () => undefined,
  set: () => undefined,
  save: () => undefined,
};

/**
 * Opens the stat memo at `file` for code `code` (a stamp that changes whenever the code that
 * derives the values may have: the compiled CLI's build time, {@link compiledCodeStamp}). Without
 * a stamp the memo remembers nothing.
 * @param now the run's start, ms since the epoch (for the racy rule)
 */
export function openStatMemo(file: string, code: string | undefined, now = Date.now()): StatMemo {
  if (code === undefined) return NO_STAT_MEMO;
  let entries: Record<string, [string, unknown]> = {};
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as {
      format?: unknown;
      version?: unknown;
      code?: unknown;
      entries?: unknown;
    };
    if (
      doc.format === STAT_MEMO_FORMAT &&
      doc.version === STAT_MEMO_VERSION &&
      doc.code === code &&
      doc.entries !== null &&
      typeof doc.entries === 'object' &&
      !Array.isArray(doc.entries)
    )
      entries = doc.entries as Record<string, [string, unknown]>;
  } catch {
    // missing or damaged: an empty memo
  }
  const used = new Set<string>();
  let changed = false;
  const limit = now - RACY_MS;
  return {
    get(kind, path, st) {
      const key = `${kind}\u0000${path}`;
      const e = Object.hasOwn(entries, key) ? entries[key] : undefined;
      if (!Array.isArray(e) || e.length !== 2 || e[0] !== statSignature(st)) return undefined;
      used.add(key);
      return e[1];
    },
    set(kind, path, st, value) {
      if (st.mtimeMs >= limit || st.ctimeMs >= limit) return;
      const key = `${kind}\u0000${path}`;
      entries[key] = [statSignature(st), value];
      used.add(key);
      changed = true;
    },
    save() {
      if (!changed) return;
      let keep = entries;
      if (Object.keys(entries).length > STAT_MEMO_MAX_ENTRIES) {
        keep = {};
        for (const k of used) keep[k] = entries[k]!;
      }
      try {
        writeFileAtomicSync(
          file,
          JSON.stringify({ format: STAT_MEMO_FORMAT, version: STAT_MEMO_VERSION, code, entries: keep }),
          { mkdir: true },
        );
        changed = false;
      } catch {
        // a cache: a memo that cannot be written costs the next run its reads, nothing else
      }
    },
  };
}

/**
 * The stamp of the running code for {@link openStatMemo}: the compiled CLI's build time from
 * `dist/.eos-build.json` (specs/cli.md §1.2), or undefined when running the TypeScript sources
 * (tsx, vitest), whose code can change between runs without a build.
 */
export function compiledCodeStamp(): string | undefined {
  if (import.meta.url.endsWith('.ts')) return undefined;
  try {
    const m = JSON.parse(readFileSync(new URL('../../.eos-build.json', import.meta.url), 'utf8')) as {
      builtAtMs?: unknown;
    };
    return typeof m.builtAtMs === 'number' ? `dist:${m.builtAtMs}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `stat` of `path` (following symbolic links, as a read does) when it is a regular file, else
 * undefined (the caller reads the file and reports what is wrong).
 */
function statFileOrUndefined(path: string): Stats | undefined {
  try {
    const st = statSync(path);
    return st.isFile() ? st : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The value `derive` gives for the regular file at `path`, through `memo` as `kind`: reused when the
 * file's `stat` signature is the remembered one, else derived (reading the file) and remembered.
 * `derive`'s errors pass through (nothing is remembered then).
 */
export async function memoDerived<T>(
  memo: StatMemo,
  kind: string,
  path: string,
  derive: () => T | Promise<T>,
): Promise<T> {
  const st = memo === NO_STAT_MEMO ? undefined : statFileOrUndefined(path);
  if (!st) return await derive();
  const m = memo.get(kind, path, st);
  if (m !== undefined) return m as T;
  const v = await derive();
  memo.set(kind, path, st, v);
  return v;
}
