/**
 * Seed archives: `eos seed export FILE` writes one tar file holding a Debian seed's lock and every
 * `.deb` it pins, and `eos seed import FILE` verifies each `.deb` against the lock's SHA256 and
 * blob digest, stores it, and rebuilds the trees offline from those blobs (the lock's tree digests
 * checked as in any repair). So an air-gapped machine, or any machine after the pinned versions
 * have left the archive, builds with the exact old toolchain.
 *
 * The archive is a POSIX ustar file written with `tar-stream` (deterministic headers, no host tar,
 * whose defaults differ between versions); layout and checks in specs/seed.md §7.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createRequire } from 'node:module';
import type * as TarStream from 'tar-stream';
import { SeedError, digestBytes, type Digest, type Store } from '../../src/kernel/index.ts';
import { ensureSeed, readSeedLock, type SeedReport } from './seed.ts';
import { encodeSeedLock, parseSeedLock, type SeedLock, type SeedPackage } from './seed-lock.ts';

let tarModule: typeof TarStream | undefined;
/** tar-stream, loaded when a seed archive is first written or read (not with every build). */
function tar(): typeof TarStream {
  return (tarModule ??= createRequire(import.meta.url)('tar-stream') as typeof TarStream);
}

/** The archive member holding the lock (always the first). */
export const SEED_ARCHIVE_LOCK = 'seed.lock';

/** The archive member name of a package's `.deb`: `debs/<name>_<version>_<arch>.deb` (epoch `:` as `%3a`). */
export function seedArchiveDebName(p: Pick<SeedPackage, 'name' | 'version' | 'arch'>): string {
  return `debs/${p.name}_${p.version.replace(/:/g, '%3a')}_${p.arch}.deb`;
}

/** What `exportSeed` wrote. */
export interface SeedExportReport {
  lock: SeedLock;
  /** The archive's bytes, as a blob digest (the same lock and .debs always give the same bytes). */
  digest: Digest;
  /** Bytes written. */
  size: number;
}

/** Fixed header fields: the same lock and .debs give the same archive bytes. */
function header(name: string, size: number): Parameters<TarStream.Pack['entry']>[0] {
  return { name, size, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '', type: 'file' };
}

/**
 * Writes the seed archive of the Debian lock at `lockPath` to `file` (temp file, fsync, rename):
 * the lock's bytes as `seed.lock`, then each package's `.deb` blob from the store, by name.
 * @throws SeedError E24 (a host-mode lock, which pins no .debs; a .deb missing from the store),
 *   IoError E12
 */
export async function exportSeed(opts: {
  store: Store;
  lockPath: string;
  file: string;
}): Promise<SeedExportReport> {
  const lock = await readSeedLock(opts.lockPath);
  if (lock.mode !== 'debian')
    throw new SeedError(`${opts.lockPath}: a ${lock.mode}-mode seed pins no .debs; only debian seeds export`);
  for (const p of lock.packages)
    if (!(await opts.store.hasBlob(p.deb!)))
      throw new SeedError(`${p.name} ${p.version}: its .deb ${p.deb} is not in the store`, {
        hint: 'run `eos seed --keep-debs --lock ' + opts.lockPath + '` first to fetch it',
      });
  const tmp = `${opts.file}.tmp-${process.pid}`;
  await fs.mkdir(dirname(opts.file), { recursive: true });
  const pack = tar().pack();
  const lockBytes = Buffer.from(encodeSeedLock(lock));
  const written = (async () => {
    const out = createWriteStream(tmp, { mode: 0o644 });
    await pipeline(pack, out);
  })();
  const add = (name: string, bytes: Uint8Array) =>
    new Promise<void>((resolve, reject) =>
      pack.entry(header(name, bytes.length), Buffer.from(bytes), (e) => (e ? reject(e) : resolve())),
    );
  try {
    await add(SEED_ARCHIVE_LOCK, lockBytes);
    for (const p of lock.packages)
      await add(seedArchiveDebName(p), await fs.readFile(opts.store.blobPath(p.deb!)));
    pack.finalize();
    await written;
    const fh = await fs.open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    const bytes = await fs.readFile(tmp);
    await fs.rename(tmp, opts.file);
    return { lock, digest: digestBytes(bytes), size: bytes.length };
  } catch (e) {
    pack.destroy();
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

/** What `importSeed` did: the archive's lock, the .debs it stored, and the seed it then made. */
export interface SeedImportReport {
  /** `.deb` blobs added to the store (not already there). */
  stored: number;
  seed: SeedReport;
}

async function readMember(entry: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of entry) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Imports a seed archive: reads its lock (the first member), checks every `.deb` member against
 * the lock's `debSha256` and `deb` digest before storing it, requires one member per package and
 * nothing else, writes the lock to `lockPath` (refusing to replace a different one), then makes the
 * seed from the stored blobs offline (`ensureSeed`: each tree re-made and checked against the lock).
 * @throws SeedError E24 (not a seed archive, a .deb that does not match its pin, a missing or
 *   unexpected member, another lock already at `lockPath`), IoError E12
 */
export async function importSeed(opts: {
  store: Store;
  lockPath: string;
  file: string;
  aptDir?: string;
  log?: (msg: string) => void;
}): Promise<SeedImportReport> {
  const what = basename(opts.file);
  const extract = tar().extract();
  const reading = pipeline(createReadStream(opts.file), extract);
  let lock: SeedLock | undefined;
  let lockBytes: Buffer | undefined;
  const byMember = new Map<string, SeedPackage>();
  const seen = new Set<string>();
  let stored = 0;
  try {
    for await (const entry of extract) {
      const name = entry.header.name;
      const bytes = await readMember(entry);
      if (!lock) {
        if (name !== SEED_ARCHIVE_LOCK)
          throw new SeedError(
            `${what}: not a seed archive (its first member is ${JSON.stringify(name)}, not seed.lock)`,
          );
        lock = parseSeedLock(bytes, `${what}:seed.lock`);
        lockBytes = bytes;
        if (lock.mode !== 'debian')
          throw new SeedError(`${what}: its lock is a ${lock.mode}-mode seed, not debian`);
        for (const p of lock.packages) byMember.set(seedArchiveDebName(p), p);
        continue;
      }
      const p = byMember.get(name);
      if (!p)
        throw new SeedError(
          `${what}: unexpected member ${JSON.stringify(name)} (the lock pins no such .deb)`,
        );
      if (seen.has(name)) throw new SeedError(`${what}: member ${name} appears twice`);
      seen.add(name);
      const sha = createHash('sha256').update(bytes).digest('hex');
      if (sha !== p.debSha256)
        throw new SeedError(
          `${what}: ${name} has sha256 ${sha}, the lock pins ${p.name} ${p.version} at ${p.debSha256}`,
        );
      const d = digestBytes(bytes);
      if (d !== p.deb) throw new SeedError(`${what}: ${name} has digest ${d}, the lock says ${p.deb}`);
      if (!(await opts.store.hasBlob(d))) {
        await opts.store.putBlob(bytes);
        stored++;
      }
    }
    await reading;
  } catch (e) {
    extract.destroy();
    await reading.catch(() => undefined);
    if (e instanceof SeedError) throw e;
    throw new SeedError(`${what}: not a readable seed archive (${(e as Error).message})`, { cause: e });
  }
  if (!lock || !lockBytes) throw new SeedError(`${what}: empty archive (no seed.lock)`);
  const absent = [...byMember.keys()].filter((m) => !seen.has(m));
  if (absent.length)
    throw new SeedError(
      `${what}: ${absent.length} pinned .deb(s) missing from the archive: ${absent.slice(0, 5).join(', ')}`,
    );
  if (existsSync(opts.lockPath) && !(await fs.readFile(opts.lockPath)).equals(lockBytes))
    throw new SeedError(`${opts.lockPath}: another seed lock is already here`, {
      hint: 'import with another --lock file, or remove this one first',
    });
  if (!existsSync(opts.lockPath)) {
    await fs.mkdir(dirname(opts.lockPath), { recursive: true });
    const tmp = `${opts.lockPath}.tmp-${process.pid}`;
    const fh = await fs.open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(lockBytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, opts.lockPath);
  }
  // Every .deb is stored: the trees are re-made from the blobs, offline, and checked against the lock.
  const seed = await ensureSeed({
    store: opts.store,
    lockPath: opts.lockPath,
    mode: 'debian',
    aptDir: opts.aptDir ?? join(opts.store.root, 'cache', 'apt'),
    ...(opts.log ? { log: opts.log } : {}),
  });
  return { stored, seed };
}
