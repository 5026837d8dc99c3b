/**
 * `eos seed`: creates, verifies, repairs and re-pins the seed set (the toolchain's package trees
 * plus the fixups entry) and records it in `seed.lock`. Two bootstrap modes: `debian` (exact
 * `.deb`s from the archive through a private apt state, sha256-checked against the signed index,
 * unpacked with `dpkg-deb`) and `host` (the same packages imported from the host's dpkg database,
 * no network). With a lock whose trees are all in the store, nothing touches the network.
 *
 * @see specs/seed.md
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  IoError,
  SeedError,
  readFileBounded,
  writeFileAtomic,
  type Digest,
  type Store,
} from '../../src/kernel/index.ts';
import { mapLimit, runProc } from '../proc.ts';
import { PrivateApt, type ResolvedPackage } from './apt.ts';
import { dependencyClosure, parseDpkgStatus } from './dpkg-status.ts';
import { fixupEntries } from './fixups.ts';
import { normalizeUsrmerge, usrmergePath } from './normalize.ts';
import {
  encodeSeedLock,
  parseSeedLock,
  seedRoot,
  type SeedLock,
  type SeedMode,
  type SeedPackage,
} from './seed-lock.ts';

/** The probe's package list: a C toolchain, make, perl and the POSIX userland. */
export const DEFAULT_SEED_PACKAGES = [
  'base-files',
  'bash',
  'binutils',
  'bzip2',
  'coreutils',
  'cpp-12',
  'dash',
  'diffutils',
  'findutils',
  'gcc-12',
  'grep',
  'gzip',
  'libc-bin',
  'libc6',
  'libc6-dev',
  'linux-libc-dev',
  'make',
  'mawk',
  'perl',
  'pkgconf',
  'sed',
  'tar',
  'xz-utils',
];

/** Options of `ensureSeed`. */
export interface SeedOptions {
  store: Store;
  /** The lock file to read and (re)write. */
  lockPath: string;
  /** The bootstrap mode; default: the lock's, else `debian`. */
  mode?: SeedMode;
  /** Root packages; default: the lock's, else `DEFAULT_SEED_PACKAGES`. */
  roots?: string[];
  /** Re-pin from the current index (debian) or the current dpkg database (host). */
  update?: boolean;
  /**
   * Debian mode: when a pinned package's tree and `.deb` are both missing from the store and its
   * pinned version has left the archive (the current index no longer lists it, or apt cannot
   * download it and a fresh index no longer lists it), re-pin the whole seed from the current
   * index as `update` would, and report the pins that were gone in `SeedReport.gone`. A lock
   * whose trees are all stored is used as is, offline. Ignored in host mode.
   * @see specs/seed.md §6
   */
  repinIfGone?: boolean;
  /**
   * Debian mode: keep every pinned `.deb` as a store blob, downloading (SHA256-checked against the
   * lock, BLAKE3 against `deb`) those the store lacks even where the package's tree is stored (a
   * tree can come from elsewhere: a host seed of the same version makes the same tree). What
   * `eos seed export` and an offline re-make of a lost tree need. Ignored in host mode.
   * @see specs/seed.md §6, §7
   */
  keepDebs?: boolean;
  /** Private apt state directory; default `<store>/cache/apt`. */
  aptDir?: string;
  /** The dpkg database directory for host mode; default `/var/lib/dpkg`. */
  dpkgDir?: string;
  /** The host architecture; default `amd64`. */
  arch?: string;
  /** Progress notes. */
  log?: (msg: string) => void;
}

/** What `ensureSeed` did. */
export interface SeedReport {
  lock: SeedLock;
  /** The seed root (digest of the canonical lock). */
  root: Digest;
  /** Packages whose trees were made in this run (downloaded/unpacked or imported). */
  built: string[];
  /** Whether the lock file changed. */
  lockWritten: boolean;
  /**
   * The package version diff against the previous lock (same mode), sorted by name: empty when
   * nothing moved or when there was no previous lock.
   */
  changes: SeedVersionChange[];
  /** `name=version` of the pins that had left the archive and made `repinIfGone` re-pin; else empty. */
  gone: string[];
  /** Milliseconds: index update + resolution, download, unpack + normalize + ingest. */
  timings: { resolveMs: number; fetchMs: number; unpackIngestMs: number; totalMs: number };
}

/** One package whose pinned version moved between two locks; null: absent on that side. */
export interface SeedVersionChange {
  name: string;
  old: string | null;
  new: string | null;
}

/** The version diff between two package lists, by name, sorted by name. */
export function seedVersionChanges(
  before: readonly Pick<SeedPackage, 'name' | 'version'>[],
  after: readonly Pick<SeedPackage, 'name' | 'version'>[],
): SeedVersionChange[] {
  const a = new Map(before.map((p) => [p.name, p.version]));
  const b = new Map(after.map((p) => [p.name, p.version]));
  const out: SeedVersionChange[] = [];
  for (const name of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const o = a.get(name) ?? null;
    const n = b.get(name) ?? null;
    if (o !== n) out.push({ name, old: o, new: n });
  }
  return out;
}

/**
 * The diff as lines `changed|added|removed\tNAME\tOLD\tNEW` (`-` for a missing side), the
 * format `eos seed` prints and the tests log.
 */
export function formatSeedChanges(changes: readonly SeedVersionChange[]): string[] {
  return changes.map(
    (c) =>
      `${c.old === null ? 'added' : c.new === null ? 'removed' : 'changed'}\t${c.name}\t${c.old ?? '-'}\t${c.new ?? '-'}`,
  );
}

/** A one-line summary for progress notes: `linux-libc-dev 6.1.192-2 → 6.1.192-3, …`. */
export function summarizeSeedChanges(changes: readonly SeedVersionChange[]): string {
  if (changes.length === 0) return 'no package versions changed';
  return (
    `${changes.length} package(s) changed: ` +
    changes.map((c) => `${c.name} ${c.old ?? '(none)'} → ${c.new ?? '(none)'}`).join(', ')
  );
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

/** A staging directory in the store's tmp/ (named `<pid>-…` so the store's cleanup knows its owner). */
export async function stagingDir(store: Store, tag: string): Promise<string> {
  // Two metadata calls on this thread: each costs less than a thread-pool round trip.
  const base = store.dir('tmp');
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, `${process.pid}-${tag}-`));
}

/** Unpacks a `.deb` into `dir` with `dpkg-deb -x` and normalizes it (specs/seed.md §3). */
export async function unpackDebInto(debPath: string, dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await runProc('dpkg-deb', ['-x', debPath, dir]);
  await normalizeUsrmerge(dir);
}

/** Unpacks, normalizes and ingests one `.deb`; returns its tree digest. */
export async function unpackDeb(store: Store, debPath: string, tag: string): Promise<Digest> {
  const dir = await stagingDir(store, `deb-${tag}`);
  try {
    await unpackDebInto(debPath, join(dir, 'p'));
    return (await store.ingest(join(dir, 'p'))).digest;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * Ingests many prepared package directories in one pass (one worker pool, hashing across
 * packages in parallel): they sit at `parent/<name>`, and each package's tree is the digest of
 * the entry `<name>` of the parent's tree. Returns name → tree digest.
 */
export async function ingestPackageDirs(store: Store, parent: string): Promise<Map<string, Digest>> {
  const top = await store.ingest(parent);
  const tree = await store.getTree(top.digest);
  const out = new Map<string, Digest>();
  for (const e of tree.entries) if (e.kind === 'directory') out.set(e.name, e.digest);
  return out;
}

/** Writes the fixups entry into a staging directory and ingests it. */
export async function ingestFixups(store: Store): Promise<Digest> {
  const dir = await stagingDir(store, 'fixups');
  try {
    for (const e of fixupEntries()) {
      const p = join(dir, e.path);
      await fs.mkdir(dirname(p), { recursive: true });
      if (e.kind === 'dir') await fs.mkdir(p, { recursive: true });
      else if (e.kind === 'symlink') await fs.symlink(e.target, p);
      else await fs.writeFile(p, e.content, { mode: 0o644 });
    }
    return (await store.ingest(dir)).digest;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

function listFile(dpkgDir: string, name: string, arch: string): string {
  const qualified = join(dpkgDir, 'info', `${name}:${arch}.list`);
  return existsSync(qualified) ? qualified : join(dpkgDir, 'info', `${name}.list`);
}

/** Copies one installed package's files from the host (its dpkg `.list`) into `dir`, normalized. */
export async function importHostPackageInto(
  dpkgDir: string,
  name: string,
  arch: string,
  dir: string,
): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  {
    const paths = (await fs.readFile(listFile(dpkgDir, name, arch), 'utf8'))
      .split('\n')
      .filter((p) => p.startsWith('/'));
    for (const hostPath of paths) {
      if (hostPath === '/.') continue;
      const dst = join(dir, usrmergePath(hostPath));
      let st;
      try {
        st = await fs.lstat(hostPath);
      } catch {
        continue; // excluded by the host's dpkg path filters (e.g. docs)
      }
      if (
        st.isSymbolicLink() &&
        (await fs.stat(hostPath).catch(() => undefined))?.isDirectory() &&
        usrmergePath(hostPath) !== hostPath &&
        hostPath.split('/').length === 2
      ) {
        await fs.mkdir(dst, { recursive: true }); // a usrmerge top-level symlink on the host
        continue;
      }
      await fs.mkdir(dirname(dst), { recursive: true });
      if (st.isDirectory()) await fs.mkdir(dst, { recursive: true });
      else if (st.isSymbolicLink()) {
        if (!existsSync(dst)) await fs.symlink(await fs.readlink(hostPath), dst).catch(() => undefined);
      } else if (st.isFile()) {
        await fs.copyFile(hostPath, dst);
        await fs.chmod(dst, st.mode & 0o777);
      }
    }
    await normalizeUsrmerge(dir);
  }
}

/** The bound on a seed.lock read whole: 64 MiB (a seed of a few hundred packages is about 100 KB). */
const SEED_LOCK_MAX_BYTES = 64 << 20;

async function readLock(path: string): Promise<SeedLock | undefined> {
  if (!existsSync(path)) return undefined;
  // Bounded, and never a hang on a FIFO no one writes (specs/cli.md §2).
  return parseSeedLock(await readFileBounded(path, { max: SEED_LOCK_MAX_BYTES, what: 'seed lock' }), path);
}

/**
 * Makes sure the seed exists: reads the lock (if any), creates or re-pins it, fetches/imports
 * whatever tree is missing from the store, checks every digest, writes the lock, pins the trees
 * as store roots. With `repinIfGone`, a lock whose missing pins have left the archive is re-pinned
 * from the current index instead of failing (the one code path the demo and the tests share).
 * @throws SeedError E24 (an index or host package mismatch, a sha256 that does not match the
 *   lock, a tree that re-ingests to another digest), IoError E12 (apt, dpkg-deb)
 * @see specs/seed.md §4, §6
 */
export async function ensureSeed(opts: SeedOptions): Promise<SeedReport> {
  const log = opts.log ?? (() => undefined);
  if (!opts.repinIfGone || opts.update) return pinSeed(opts, { forceIndex: opts.update === true, gone: [] });
  const old = await readLock(opts.lockPath);
  const mode: SeedMode = opts.mode ?? old?.mode ?? 'debian';
  if (!old || old.mode !== 'debian' || mode !== 'debian')
    return pinSeed(opts, { forceIndex: false, gone: [] });
  const apt = new PrivateApt(opts.aptDir ?? join(opts.store.root, 'cache', 'apt'));
  // Pins that neither the store (tree or .deb) nor, perhaps, the archive still has.
  const absent: SeedPackage[] = [];
  for (const p of old.packages) {
    const deb = !!p.deb && (await opts.store.hasBlob(p.deb));
    if (opts.keepDebs ? !deb : !deb && !(await opts.store.hasTree(p.tree))) absent.push(p);
  }
  if (absent.length === 0) return pinSeed(opts, { forceIndex: false, gone: [] });
  const goneFrom = async (): Promise<string[]> => {
    const listed = await apt.indexed(absent);
    return absent.filter((p) => !listed.has(`${p.name}=${p.version}`)).map((p) => `${p.name}=${p.version}`);
  };
  const repin = (gone: string[]): Promise<SeedReport> => {
    log(
      `seed: ${gone.length} pinned package version(s) have left the archive (${gone.join(', ')}); ` +
        're-pinning the seed from the current index',
    );
    return pinSeed({ ...opts, update: true }, { forceIndex: false, gone });
  };
  await apt.update();
  let gone = await goneFrom();
  if (gone.length) return repin(gone);
  try {
    return await pinSeed(opts, { forceIndex: false, gone: [] });
  } catch (e) {
    // The private index may be hours old while the archive has moved on: refresh it and look again.
    if (!(e instanceof IoError)) throw e;
    await apt.update(0, true);
    gone = await goneFrom();
    if (gone.length === 0) throw e;
    return repin(gone);
  }
}

async function pinSeed(opts: SeedOptions, how: { forceIndex: boolean; gone: string[] }): Promise<SeedReport> {
  const t0 = Date.now();
  const log = opts.log ?? (() => undefined);
  const store = opts.store;
  const old = await readLock(opts.lockPath);
  const mode: SeedMode = opts.mode ?? old?.mode ?? 'debian';
  if (old && old.mode !== mode && !opts.update)
    throw new SeedError(`${opts.lockPath}: the lock is a ${old.mode}-mode seed, not ${mode}`, {
      hint: 'use `eos seed update --mode ' + mode + '` to re-pin it, or another --lock file',
    });
  const roots = [...(opts.roots ?? (old && old.mode === mode ? old.roots : DEFAULT_SEED_PACKAGES))].sort();
  const arch = opts.arch ?? old?.arch ?? 'amd64';
  const dpkgDir = opts.dpkgDir ?? '/var/lib/dpkg';
  const timings = { resolveMs: 0, fetchMs: 0, unpackIngestMs: 0, totalMs: 0 };
  const built: string[] = [];
  const usable =
    old && old.mode === mode && JSON.stringify(old.roots) === JSON.stringify(roots) && !opts.update;
  let packages: SeedPackage[];

  if (mode === 'host') {
    let wanted: { name: string; version: string; arch: string }[];
    if (usable) wanted = old.packages;
    else {
      const t = Date.now();
      wanted = dependencyClosure(parseDpkgStatus(await fs.readFile(join(dpkgDir, 'status'), 'utf8')), roots);
      timings.resolveMs += Date.now() - t;
    }
    const prev = new Map((usable ? old.packages : []).map((p) => [p.name, p]));
    const t = Date.now();
    const todo: typeof wanted = [];
    for (const w of wanted) {
      const p = prev.get(w.name);
      if (!(p && (await store.hasTree(p.tree)))) todo.push(w);
    }
    const trees = new Map<string, Digest>();
    if (todo.length) {
      const staging = await stagingDir(store, 'host');
      try {
        await mapLimit(todo, 2, (w) =>
          importHostPackageInto(dpkgDir, w.name, w.arch, join(staging, 'pkgs', w.name)),
        );
        for (const [k, v] of await ingestPackageDirs(store, join(staging, 'pkgs'))) trees.set(k, v);
      } finally {
        await fs.rm(staging, { recursive: true, force: true });
      }
    }
    packages = await mapLimit(wanted, 2, async (w) => {
      const p = prev.get(w.name);
      const tree = trees.get(w.name);
      if (!tree) return p!;
      if (p && p.tree !== tree)
        throw new SeedError(
          `${w.name} ${w.version}: host files now give tree ${tree}, the lock says ${p.tree}`,
          {
            hint: 'the host package changed; re-pin with `eos seed update --mode host`',
          },
        );
      built.push(w.name);
      return { name: w.name, version: w.version, arch: w.arch, debSha256: null, deb: null, tree };
    });
    timings.unpackIngestMs += Date.now() - t;
  } else {
    const apt = new PrivateApt(opts.aptDir ?? join(store.root, 'cache', 'apt'));
    let wanted: (ResolvedPackage & { debSha256: string })[];
    const prev = new Map(
      (old?.mode === 'debian' ? old.packages : []).map((p) => [`${p.name}=${p.version}`, p]),
    );
    const present = async (p: SeedPackage | undefined): Promise<boolean> =>
      !!p && (await store.hasTree(p.tree));
    if (usable) {
      wanted = old.packages.map((p) => ({ ...p, debSha256: p.debSha256! }));
    } else {
      const t = Date.now();
      await apt.update(6 * 3600_000, how.forceIndex);
      const resolved = await apt.resolve(roots);
      const shas = await apt.sha256s(resolved);
      wanted = resolved.map((r) => ({ ...r, debSha256: shas.get(`${r.name}=${r.version}`)! }));
      timings.resolveMs += Date.now() - t;
    }
    // Trees we can rebuild from a .deb already in the store, and those we must download.
    const missing: typeof wanted = [];
    for (const w of wanted) {
      const p = prev.get(`${w.name}=${w.version}`);
      if (p && p.debSha256 !== w.debSha256)
        throw new SeedError(
          `${w.name} ${w.version}: the index says sha256 ${w.debSha256}, the lock says ${p.debSha256}`,
        );
      const debStored = !!p?.deb && (await store.hasBlob(p.deb));
      if (!debStored && (opts.keepDebs || !(await present(p)))) missing.push(w);
    }
    const debFiles = new Map<string, string>();
    const dl = missing.length ? await stagingDir(store, 'debs') : undefined;
    try {
      if (missing.length && dl) {
        log(`seed: downloading ${missing.length} .deb files`);
        const t = Date.now();
        if (usable) await apt.update();
        for (const [k, v] of await apt.download(missing, dl)) debFiles.set(k, v);
        timings.fetchMs += Date.now() - t;
      }
      const t = Date.now();
      const staged = join(dl ?? (await stagingDir(store, 'debs')), 'pkgs');
      const made = new Map<string, { deb: Digest }>();
      await mapLimit(wanted, 2, async (w) => {
        const key = `${w.name}=${w.version}`;
        const p = prev.get(key);
        const have = await present(p);
        let debPath = debFiles.get(key);
        if (have && !debPath) return;
        let deb: Digest;
        if (debPath) {
          const sha = await sha256File(debPath);
          if (sha !== w.debSha256)
            throw new SeedError(
              `${w.name} ${w.version}: downloaded .deb has sha256 ${sha}, the index says ${w.debSha256}`,
            );
          deb = await store.putBlob(await fs.readFile(debPath));
          if (p?.deb && deb !== p.deb)
            throw new SeedError(`${w.name} ${w.version}: downloaded .deb is ${deb}, the lock says ${p.deb}`);
          // Its tree is stored already: the .deb was fetched only to be kept (keepDebs).
          if (have) return;
        } else {
          deb = p!.deb!;
          debPath = store.blobPath(deb);
          const sha = await sha256File(debPath);
          if (sha !== w.debSha256)
            throw new SeedError(
              `${w.name} ${w.version}: stored .deb ${deb} has sha256 ${sha}, the lock says ${w.debSha256}`,
            );
        }
        await unpackDebInto(debPath, join(staged, w.name));
        made.set(w.name, { deb });
      });
      const trees = made.size ? await ingestPackageDirs(store, staged) : new Map<string, Digest>();
      if (!dl) await fs.rm(join(staged, '..'), { recursive: true, force: true });
      packages = wanted.map((w) => {
        const p = prev.get(`${w.name}=${w.version}`);
        const m = made.get(w.name);
        if (!m) return p!;
        const tree = trees.get(w.name)!;
        if (p && p.tree !== tree)
          throw new SeedError(
            `${w.name} ${w.version}: the .deb unpacks to tree ${tree}, the lock says ${p.tree}`,
          );
        built.push(w.name);
        return { name: w.name, version: w.version, arch: w.arch, debSha256: w.debSha256, deb: m.deb, tree };
      });
      timings.unpackIngestMs += Date.now() - t;
    } finally {
      if (dl) await fs.rm(dl, { recursive: true, force: true });
    }
  }

  const fixups = await ingestFixups(store);
  if (usable && old.fixups !== fixups)
    log(`seed: the fixups entry changed (${old.fixups} → ${fixups}); the lock is updated`);
  const lock: SeedLock = { format: 'eos-seed-lock', version: 1, mode, arch, roots, packages, fixups };
  const bytes = encodeSeedLock(lock);
  const oldBytes = existsSync(opts.lockPath) ? await fs.readFile(opts.lockPath) : undefined;
  const lockWritten = !oldBytes || Buffer.compare(oldBytes, Buffer.from(bytes)) !== 0;
  if (lockWritten) await writeFileAtomic(opts.lockPath, bytes, { mkdir: true });
  const root = seedRoot(lock);
  await store.addRoot(`seed-${digestTail(root)}`, await store.putBlob(bytes));
  timings.totalMs = Date.now() - t0;
  const changes = old && old.mode === mode ? seedVersionChanges(old.packages, packages) : [];
  return { lock, root, built: built.sort(), lockWritten, timings, changes, gone: how.gone };
}

function digestTail(d: Digest): string {
  return d.slice(-16);
}

/**
 * Reads and parses a seed lock file (bounded at 64 MiB, opened non-blocking: specs/cli.md §2).
 * @throws SeedError E24 (none at `path`, or malformed), EncodingError E3, InputTooLargeError E46,
 *   NotAFileError E48 (a directory, socket, or a FIFO no one writes), IoError E12
 */
export async function readSeedLock(path: string): Promise<SeedLock> {
  const l = await readLock(path);
  if (!l) throw new SeedError(`${path}: no seed lock here`, { hint: 'create one with `eos seed`' });
  return l;
}
