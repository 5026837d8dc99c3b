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
  link,
  copyFile,
  chmod,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { ComposefsError, IoError, EosError } from '../../src/index.ts';
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

function ioError(e: unknown, what: string): EosError {
  if (e instanceof EosError) return e;
  const err = e as NodeJS.ErrnoException;
  return new IoError(`${what}: ${err.message}`, { cause: e, data: { code: err.code } });
}

function located(e: unknown, path: string): unknown {
  if (e instanceof ComposefsError)
    return new ComposefsError(`${path}: ${e.detail}`, { data: e.data, cause: e });
  return e;
}

/** Reads a file's bytes, unpacking gzip when the file starts with the gzip magic. */
async function readMaybeGzip(path: string): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw ioError(e, `read ${path}`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return gunzipSync(bytes);
    } catch (e) {
      throw new ComposefsError(`${path}: bad gzip data (${(e as Error).message})`);
    }
  }
  return bytes;
}

/**
 * Reads a composefs dump file (plain or gzipped) into a validated tree.
 * @throws ComposefsError E14 `FILE: dump line N: …`; IoError E12 when the file cannot be read
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
 * @throws ComposefsError E14 for a malformed image; IoError E12 when the file cannot be read
 */
export async function readImageFile(path: string): Promise<{ tree: ComposefsTree; info: ImageInfo }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw ioError(e, `read ${path}`);
  }
  try {
    return parseImage(bytes);
  } catch (e) {
    throw located(e, path);
  }
}

/**
 * Writes bytes to `path` atomically: a temporary file in the same directory, fsync, rename.
 * @throws IoError E12
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array, mode = 0o644): Promise<void> {
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw ioError(e, `write ${path}`);
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

async function storeObject(objectsDir: string, rel: string, source: Buffer): Promise<void> {
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
    await copyFile(source, tmp);
    await chmod(tmp, 0o644);
    const fh = await open(tmp, 'r');
    await fh.sync();
    await fh.close();
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
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
  const nodeOf = async (path: Buffer): Promise<{ inode: CfsInode; link: boolean }> => {
    const st = await lstat(path, { bigint: true });
    const mode = Number(st.mode);
    const key = `${st.dev}:${st.ino}`;
    const type = mode & S_IFMT;
    if (type !== S_IFDIR && st.nlink > 1n) {
      const prev = byIno.get(key);
      if (prev) return { inode: prev, link: true };
    }
    const inode = newInode(mode, {
      nlink: Number(st.nlink),
      uid: Number(st.uid),
      gid: Number(st.gid),
      mtimeSec: Number(st.mtimeNs / 1_000_000_000n),
      mtimeNsec: Number(st.mtimeNs % 1_000_000_000n),
      sizeBytes: type === S_IFREG ? Number(st.size) : 0,
      rdev: type === S_IFCHR || type === S_IFBLK ? Number(st.rdev) : 0,
    });
    if (type !== S_IFDIR && st.nlink > 1n) byIno.set(key, inode);
    if (type === S_IFLNK) {
      inode.payload = Buffer.from(await readlink(path, { encoding: 'buffer' }));
      inode.sizeBytes = inode.payload.length;
    } else if (type === S_IFREG && inode.sizeBytes > 0) {
      if (inode.sizeBytes <= inlineMax) {
        inode.content = await readFile(path);
        if (inode.content.length !== inode.sizeBytes)
          throw new IoError(`${path.toString()}: file changed while reading`);
      } else {
        const digest = await computeFsVerityDigest(createReadStream(path));
        inode.fsverityDigest = digest;
        const rel = objectPath(digest);
        inode.payload = Buffer.from(rel, 'latin1');
        if (options.objectsDir) await storeObject(options.objectsDir, rel, path);
      }
    }
    return { inode, link: false };
  };
  try {
    const { inode: root } = await nodeOf(Buffer.from(dir));
    if ((root.mode & S_IFMT) !== S_IFDIR) throw new ComposefsError(`${dir}: not a directory`);
    const stack: [Buffer, CfsInode][] = [[Buffer.from(dir), root]];
    while (stack.length > 0) {
      const [path, inode] = stack.pop()!;
      const names = (await readdir(path, { encoding: 'buffer' })).sort(Buffer.compare);
      const entries: CfsEntry[] = [];
      for (const name of names) {
        const childPath = Buffer.concat([path, Buffer.from('/'), name]);
        const { inode: child, link } = await nodeOf(childPath);
        entries.push({ name: Uint8Array.from(name), inode: child, hardlink: link });
        if (!link && (child.mode & S_IFMT) === S_IFDIR) stack.push([childPath, child]);
      }
      inode.entries = entries;
    }
    return validateTree(root);
  } catch (e) {
    throw ioError(e, `read directory ${dir}`);
  }
}

/** Hard-links or copies `src` to `dest` (helper for tests and materialization). */
export async function linkOrCopy(src: string, dest: string): Promise<void> {
  try {
    await link(src, dest);
  } catch {
    await copyFile(src, dest);
  }
}
