/**
 * Verified reads without fs-verity (I/O): before a composition is mounted, run, materialized or
 * imaged, every object file it references is checked against its BLAKE3 digest, unless the
 * verified-object record (verified.ts) says this very file (dev, inode, size, mtime, ctime) was
 * checked before. A mismatch is `[E5]` before anything is used.
 *
 * @see specs/store.md §12
 */
import { existsSync, readFileSync, statSync, type BigIntStats } from 'node:fs';
import { digestBytes, type Digest } from '../digest.ts';
import { CorruptObjectError, NotFoundError } from '../errors.ts';
import { osError } from '../os-error.ts';
import type { Store } from './fs-store.ts';
import { sharedFilePool } from './pool.ts';
import { VerifiedRecord, statKey, type ObjectFileKind } from './verified.ts';

/** Files smaller than this are hashed on the calling thread (a worker round trip costs more). */
const INLINE_BYTES = 256 * 1024;

const records = new Map<string, VerifiedRecord>();

/** The verified-object record of a store, opened once per process (created when absent). */
export function verifiedRecord(store: Store): VerifiedRecord {
  let r = records.get(store.root);
  if (!r || (r.usable && !existsSync(r.dir))) {
    store.ensureLayout();
    r = VerifiedRecord.open(store.root);
    records.set(store.root, r);
  }
  return r;
}

/** One object a composition uses. */
export interface ObjectUse {
  digest: Digest;
  /** Also check its executable twin (`xobjects/`) when one exists: hard-link worlds use it. */
  twin?: boolean;
}

/** What {@link checkObjects} did. */
export interface CheckReport {
  /** Distinct object files considered (blobs plus twins). */
  files: number;
  /** Files re-hashed (not covered by the record). */
  hashed: number;
  /** Bytes re-hashed. */
  bytesHashed: number;
}

function statOf(path: string, d: Digest, store: Store): BigIntStats {
  try {
    return statSync(path, { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new NotFoundError(`blob ${d} is not in the store ${store.root}`, { data: { digest: d } });
    throw osError(e, path);
  }
}

/**
 * Checks the object files of `uses` against their digests (see the module comment) and records
 * the ones that hashed right (appended to the record at once unless `opts.flush` is false: the
 * caller then flushes it). Twins are checked only when asked and present.
 * @throws CorruptObjectError E5 naming every file whose bytes hash otherwise (nothing is recorded
 *   for them); NotFoundError E4 for a blob that is not stored
 * @see specs/store.md §12
 */
export async function checkObjects(
  store: Store,
  uses: Iterable<ObjectUse>,
  opts: { flush?: boolean } = {},
): Promise<CheckReport> {
  const record = verifiedRecord(store);
  // During a run (Store.beginRun: one `eos build`), a file found good is not looked at again (§12.4).
  const run = store.runChecked;
  const files = new Map<string, { kind: ObjectFileKind; d: Digest; path: string; st: BigIntStats }>();
  const trusted = new Set<string>();
  for (const u of uses) {
    // Run memory keys: the file's kind and digest (`o…`, `x…`), cheaper than its path.
    const ok = `o${u.digest}`;
    if (run?.has(ok)) trusted.add(ok);
    else {
      const path = store.blobPath(u.digest);
      if (!files.has(path))
        files.set(path, { kind: 'o', d: u.digest, path, st: statOf(path, u.digest, store) });
    }
    if (u.twin) {
      const xk = `x${u.digest}`;
      if (run?.has(xk)) {
        trusted.add(xk);
        continue;
      }
      const tp = store.twinPath(u.digest);
      if (files.has(tp)) continue;
      let st: BigIntStats | undefined;
      try {
        st = statSync(tp, { bigint: true, throwIfNoEntry: false });
      } catch {
        st = undefined;
      }
      if (st) files.set(tp, { kind: 'x', d: u.digest, path: tp, st });
      else run?.add(xk); // no twin: nothing links to one (one made later is made from the checked object)
    }
  }
  const report: CheckReport = { files: files.size + trusted.size, hashed: 0, bytesHashed: 0 };
  const bad: string[] = [];
  const pool = sharedFilePool();
  const work: Promise<void>[] = [];
  for (const f of files.values()) {
    if (record.checked(f.kind, f.d, f.st)) continue;
    report.hashed++;
    report.bytesHashed += Number(f.st.size);
    const done = (got: Digest): void => {
      if (got !== f.d) {
        bad.push(`${f.path} (blob ${f.d}) hashes to ${got}`);
        return;
      }
      // Record only when the file did not change while it was read.
      const after = statSync(f.path, { bigint: true });
      if (statKey(after) === statKey(f.st)) record.noteChecked(f.kind, f.d, f.st);
    };
    if (f.st.size < INLINE_BYTES) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(f.path);
      } catch (e) {
        throw osError(e, f.path);
      }
      done(digestBytes(bytes));
    } else
      work.push(
        pool.hash(f.path).then(
          (r) => done(r.digest),
          (e: unknown) => {
            throw osError(e, f.path);
          },
        ),
      );
  }
  await Promise.all(work);
  // `flush: false`: the caller flushes the record (with its own lines, in one append).
  // Off the event loop: a build checks each action's source while other actions run.
  if (opts.flush !== false) await record.flushAsync();
  if (run && !bad.length) for (const f of files.values()) run.add(`${f.kind}${f.d}`);
  if (bad.length)
    throw new CorruptObjectError(
      `${bad.length} object file(s) do not match their digest, refusing to use them: ${bad.slice(0, 3).join('; ')}${bad.length > 3 ? '; …' : ''}`,
      {
        data: { files: bad },
        hint: 'run `eos store verify --repair`, then ingest or build the sources again',
      },
    );
  return report;
}

/**
 * The objects a stored tree references, recursively (each blob once; `twin` set for blobs that
 * are executable somewhere in it).
 * @throws NotFoundError E4 / CorruptObjectError E5 for a missing or damaged tree
 */
export async function objectsOfTree(store: Store, root: Digest): Promise<ObjectUse[]> {
  const out = new Map<Digest, ObjectUse>();
  const seen = new Set<Digest>();
  const stack = [root];
  while (stack.length) {
    const d = stack.pop()!;
    if (seen.has(d)) continue;
    seen.add(d);
    for (const e of (await store.getTree(d)).entries) {
      if (e.kind === 'directory') stack.push(e.digest);
      else if (e.kind === 'file' && e.size > 0) {
        const u = out.get(e.digest) ?? { digest: e.digest };
        if (e.executable) u.twin = true;
        out.set(e.digest, u);
      }
    }
  }
  return [...out.values()];
}
