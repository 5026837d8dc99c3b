/**
 * File I/O around the pure composefs core: reading (possibly gzipped) dumps and images, writing
 * images atomically, and building a tree from a directory whose regular files are stored in a
 * content-addressed objects directory by fs-verity digest (as `mkcomposefs --digest-store`).
 *
 * @see specs/composefs.md §7
 */
import { createReadStream } from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  readFile,
  readdir,
  readlink,
  rename,
  rm,
  stat,
  copyFile,
  chmod,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import {
  ComposefsError,
  InputTooLargeError,
  IoError,
  osError,
  readFileBounded,
} from '../../src/kernel/index.ts';
import { parseDump } from './dump.ts';
import { parseImage } from './reader.ts';
import type { ImageInfo } from './reader.ts';
import { computeFsVerityDigest } from './fsverity.ts';
import { newInode, validateTree } from './tree.ts';
import type { CfsEntry, CfsInode, ComposefsTree } from './tree.ts';
import {
  RECOMMENDED_INLINE_CONTENT_MAX,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
  S_IFLNK,
  S_IFCHR,
  S_IFBLK,
} from './format.ts';

function located(e: unknown, path: string): unknown {
  if (e instanceof ComposefsError)
    return new ComposefsError(`${path}: ${e.detail}`, { data: e.data, cause: e });
  return e;
}

/**
 * The bound on a composefs dump or image read whole (`eos image --from-dump`, `--dump`), and on a
 * dump unpacked from gzip: 1 GiB (an image of a million files is about 200 MB).
 */
export const COMPOSEFS_FILE_MAX_BYTES = 1 << 30;

/** Reads a file's bytes, unpacking gzip when the file starts with the gzip magic. */
async function readMaybeGzip(path: string): Promise<Uint8Array> {
  const bytes = await readFileBounded(path, { max: COMPOSEFS_FILE_MAX_BYTES, what: 'composefs dump' });
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return gunzipSync(bytes, { maxOutputLength: COMPOSEFS_FILE_MAX_BYTES });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
        throw new InputTooLargeError(
          `${path}: composefs dump unpacks to more than ${COMPOSEFS_FILE_MAX_BYTES} bytes`,
          { data: { path, max: COMPOSEFS_FILE_MAX_BYTES } },
        );
      throw new ComposefsError(`${path}: bad gzip data (${(e as Error).message})`);
    }
  }
  return bytes;
}

/**
 * Reads a composefs dump file (plain or gzipped) into a validated tree.
 * @throws ComposefsError E14 `FILE: dump line N: …`; NotFoundError E4, InputTooLargeError E46 (over
 *   {@link COMPOSEFS_FILE_MAX_BYTES}, read or unpacked), NotAFileError E48 (a directory, or a FIFO no
 *   one writes), IoError E12 when the file cannot be read (specs/cli.md §2)
 */
export async function readDumpFile(path: string): Promise<ComposefsTree> {
  const bytes = await readMaybeGzip(path);
  try {
    return parseDump(bytes);
  } catch (e) {
    throw located(e, path);
  }
}

/**
 * Reads a composefs image file.
 * @throws ComposefsError E14 for a malformed image; NotFoundError E4, InputTooLargeError E46 (over
 *   {@link COMPOSEFS_FILE_MAX_BYTES}), NotAFileError E48, IoError E12 when the file cannot be read
 */
export async function readImageFile(path: string): Promise<{ tree: ComposefsTree; info: ImageInfo }> {
  const bytes = await readFileBounded(path, { max: COMPOSEFS_FILE_MAX_BYTES, what: 'composefs image' });
  try {
    return parseImage(bytes);
  } catch (e) {
    throw located(e, path);
  }
}

/** Options of {@link treeFromDirectory}. */
export interface FromDirectoryOptions {
  /** Objects directory: regular files are copied to `<objects>/xx/yyyy…` by fs-verity digest. */
  objectsDir?: string;
  /** Files of at most this many bytes are stored inline in the image (default 64; 0 disables). */
  inlineMaxBytes?: number;
}

/** The object path of an fs-verity digest: `xx/yyyy…` (lowercase hex). */
export function objectPath(digest: Uint8Array): string {
  const hex = Buffer.from(digest).toString('hex');
  return `${hex.slice(0, 2)}/${hex.slice(2)}`;
}

/** Writes an object (temporary file, fsync, rename) unless it exists; `bytes` or a copy of `source`. */
async function storeObject(
  objectsDir: string,
  rel: string,
  source: Buffer,
  bytes: Uint8Array | null,
): Promise<void> {
  const dest = join(objectsDir, rel);
  try {
    await stat(dest);
    return;
  } catch {
    // not there yet
  }
  await mkdir(dirname(dest), { recursive: true });
  const tmp = `${dest}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    if (bytes) {
      const fh = await open(tmp, 'wx', 0o644);
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
    } else {
      await copyFile(source, tmp);
      await chmod(tmp, 0o644);
      const fh = await open(tmp, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}

/** Files up to this size are read whole (one read, one-shot digest); larger ones are streamed. */
const WHOLE_READ_MAX = 8 << 20;
/** How many files are read, hashed and stored at once. */
const CONCURRENCY = 16;

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Builds a tree from a directory (lstat, not following symlinks): modes, ids, mtimes (ns), sizes,
 * symlink targets and hard links (same device and inode) are kept; xattrs are not read. Regular
 * files larger than `inlineMaxBytes` get their fs-verity digest and the payload `xx/yyyy…`, and
 * are copied into `objectsDir` when given (existing objects are kept).
 * @throws IoError E12; ComposefsError E14 for names or files the format cannot hold
 * @see specs/composefs.md §7
 */
export async function treeFromDirectory(
  dir: string,
  options: FromDirectoryOptions = {},
): Promise<ComposefsTree> {
  const inlineMax = options.inlineMaxBytes ?? RECOMMENDED_INLINE_CONTENT_MAX;
  const byIno = new Map<string, CfsInode>();
  const statOf = async (path: Buffer) => {
    const st = await lstat(path, { bigint: true });
    const mode = Number(st.mode);
    const type = mode & S_IFMT;
    const inode = newInode(mode, {
      nlink: Number(st.nlink),
      uid: Number(st.uid),
      gid: Number(st.gid),
      mtimeSec: Number(st.mtimeNs / 1_000_000_000n),
      mtimeNsec: Number(st.mtimeNs % 1_000_000_000n),
      sizeBytes: type === S_IFREG ? Number(st.size) : 0,
      rdev: type === S_IFCHR || type === S_IFBLK ? Number(st.rdev) : 0,
    });
    return { inode, type, key: type !== S_IFDIR && st.nlink > 1n ? `${st.dev}:${st.ino}` : null };
  };
  const fill = async (path: Buffer, inode: CfsInode, type: number): Promise<void> => {
    if (type === S_IFLNK) {
      inode.payload = Buffer.from(await readlink(path, { encoding: 'buffer' }));
      inode.sizeBytes = inode.payload.length;
    } else if (type === S_IFREG && inode.sizeBytes > 0) {
      let bytes: Buffer | null = null;
      if (inode.sizeBytes <= Math.max(inlineMax, WHOLE_READ_MAX)) {
        bytes = await readFile(path);
        if (bytes.length !== inode.sizeBytes)
          throw new IoError(`${path.toString()}: file changed while reading`);
      }
      if (inode.sizeBytes <= inlineMax) {
        inode.content = bytes;
        return;
      }
      const digest = bytes
        ? computeFsVerityDigest(bytes)
        : await computeFsVerityDigest(createReadStream(path));
      inode.fsverityDigest = digest;
      const rel = objectPath(digest);
      inode.payload = Buffer.from(rel, 'latin1');
      if (options.objectsDir) await storeObject(options.objectsDir, rel, path, bytes);
    }
  };
  try {
    const top = await statOf(Buffer.from(dir));
    const root = top.inode;
    if (top.type !== S_IFDIR) throw new ComposefsError(`${dir}: not a directory`);
    const stack: [Buffer, CfsInode][] = [[Buffer.from(dir), root]];
    while (stack.length > 0) {
      const [path, inode] = stack.pop()!;
      const names = (await readdir(path, { encoding: 'buffer' })).sort(Buffer.compare);
      const paths = names.map((name) => Buffer.concat([path, Buffer.from('/'), name]));
      const stats = await pool(paths, CONCURRENCY, statOf);
      // Hard links: the first name met in this walk is the primary entry.
      const entries: CfsEntry[] = [];
      const work: [Buffer, CfsInode, number][] = [];
      for (let i = 0; i < names.length; i++) {
        const s = stats[i]!;
        const prev = s.key ? byIno.get(s.key) : undefined;
        if (prev) {
          entries.push({ name: Uint8Array.from(names[i]!), inode: prev, hardlink: true });
          continue;
        }
        if (s.key) byIno.set(s.key, s.inode);
        entries.push({ name: Uint8Array.from(names[i]!), inode: s.inode, hardlink: false });
        if (s.type === S_IFDIR) stack.push([paths[i]!, s.inode]);
        else work.push([paths[i]!, s.inode, s.type]);
      }
      await pool(work, CONCURRENCY, ([p, n, t]) => fill(p, n, t));
      inode.entries = entries;
    }
    return validateTree(root);
  } catch (e) {
    throw osError(e, `read directory ${dir}`);
  }
}
