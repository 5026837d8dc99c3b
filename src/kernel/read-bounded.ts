/**
 * Reading a whole input with a bound: the one way Eos reads a file (or stdin) that it parses whole
 * (signatures, manifests, the trust policy, compositions, deployments, locks). An endless or huge
 * input (`/dev/zero`) is a named error after at most `max + 1` bytes, never a hang or an
 * out-of-memory; a directory or socket is a named error saying what the file was read for, never a
 * bare `EISDIR`; a FIFO no one writes is a named error within {@link FIFO_WRITER_WAIT_MS}, never an
 * open() blocked forever (files are opened non-blocking, {@link openInputSync}).
 *
 * @see specs/errors.md (bounds), specs/cli.md (bounded inputs)
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { InputTooLargeError, NotAFileError } from './errors.ts';
import { osError } from './os-error.ts';

/** The bound on a signature, atom manifest or trust policy read whole: 1 MiB. */
export const READ_MAX_BYTES = 1 << 20;

/**
 * How long a FIFO or pipe that has given nothing yet and has no writer is waited for: 2000 ms
 * (a writer started beside eos, `echo … > fifo &`, opens it just after eos does). Past it, an
 * input that gave no byte is {@link NotAFileError} E48.
 */
export const FIFO_WRITER_WAIT_MS = 2000;

/**
 * The flags every input is opened with: read-only, non-blocking (open() of a FIFO with no writer
 * returns at once instead of waiting for one, as `cat` does), never becoming the controlling tty.
 */
export const INPUT_OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/** Options of {@link readFileBounded}. */
export interface ReadBoundedOptions {
  /** The largest input accepted, in bytes (default {@link READ_MAX_BYTES}). */
  max?: number;
  /** What the file is, for messages: `signature`, `atom manifest`, `trust policy`. */
  what?: string;
}

function tooLarge(subject: string, what: string, max: number): InputTooLargeError {
  return new InputTooLargeError(`${subject}: ${what} is larger than ${max} bytes`, {
    data: { path: subject, max },
  });
}

function notAFile(path: string, what: string, st: Stats): NotAFileError | undefined {
  if (!st.isDirectory() && !st.isSocket()) return undefined;
  return new NotAFileError(
    `${path}: the ${what} is a ${st.isDirectory() ? 'directory' : 'socket'}, not a file`,
    { data: { path } },
  );
}

/**
 * Opens `path` for reading without blocking (a FIFO with no writer opens at once) and returns
 * the descriptor with its fstat: what the descriptor is, not what the path was a moment before.
 * The caller closes `fd`. For readers that accept only regular files (the lock), which refuse the
 * rest by `stats`.
 * @throws the OS error as it is (ENOENT, EACCES, ENXIO for a socket: `code` set), for the caller
 *   to word
 */
export function openInputSync(path: string): { fd: number; stats: Stats } {
  const fd = openSync(path, INPUT_OPEN_FLAGS);
  try {
    return { fd, stats: fstatSync(fd) };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** The size of each read from a FIFO, pipe or device (a regular file is read in one buffer). */
const CHUNK_BYTES = 1 << 16;

/**
 * Reads `fh` (opened with {@link INPUT_OPEN_FLAGS}) to EOF or past `max`, waiting on a pipe's
 * EAGAIN. Memory: what was read, never `max` up front (a regular file: its size plus one byte).
 */
async function readAll(fh: FileHandle, st: Stats, path: string, what: string, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let buf = Buffer.allocUnsafe(st.isFile() ? Math.min(st.size, max) + 1 : Math.min(CHUNK_BYTES, max + 1));
  let used = 0;
  let n = 0;
  let idleMs = 1;
  const pipeLike = st.isFIFO() || st.isCharacterDevice();
  const started = performance.now();
  for (;;) {
    if (used === buf.length) {
      chunks.push(buf);
      buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, max + 1 - n));
      used = 0;
    }
    let bytesRead: number;
    try {
      ({ bytesRead } = await fh.read(buf, used, buf.length - used, null));
    } catch (e) {
      // A pipe with a writer and nothing in it yet: wait and retry (what a blocking read does).
      if (pipeLike && (e as NodeJS.ErrnoException).code === 'EAGAIN') {
        await sleep(idleMs);
        idleMs = Math.min(idleMs * 2, 50);
        continue;
      }
      throw e;
    }
    if (bytesRead === 0) {
      // EOF: on a FIFO that has given nothing, no writer (yet): give one a moment to open it.
      if (!st.isFIFO() || n > 0) break;
      if (performance.now() - started < FIFO_WRITER_WAIT_MS) {
        await sleep(20);
        continue;
      }
      throw new NotAFileError(
        `${path}: the ${what} is a FIFO or pipe that gave nothing (no writer in ${FIFO_WRITER_WAIT_MS} ms, or an empty one)`,
        {
          data: { path },
          hint: 'write it before or while eos reads, e.g. eos … <(command), or give a regular file',
        },
      );
    }
    idleMs = 1;
    used += bytesRead;
    n += bytesRead;
    if (n > max) throw tooLarge(path, what, max);
  }
  chunks.push(buf.subarray(0, used));
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, n);
}

/**
 * A regular file's bytes read on this thread (open, fstat, read, close: each a round trip to the
 * thread pool otherwise, which a build reading hundreds of atom manifests waits on one by one);
 * undefined, with nothing thrown, for anything else or any error, which the caller's general
 * path then reads or words.
 * @throws InputTooLargeError E46 past `max` bytes
 */
function readRegularSync(path: string, what: string, max: number): Buffer | undefined {
  let fd: number;
  try {
    if (!statSync(path).isFile()) return undefined;
    fd = openSync(path, INPUT_OPEN_FLAGS);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return undefined;
    let buf = Buffer.allocUnsafe(Math.min(st.size, max) + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (n > max) throw tooLarge(path, what, max);
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, max + 1));
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > max) throw tooLarge(path, what, max);
    }
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof InputTooLargeError) throw e;
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads all of `path` (a regular file, or a FIFO, pipe or character device, which are read up to
 * the bound). `path` is `-` for stdin. Never blocks in open(): a FIFO no one writes ends in E48
 * after {@link FIFO_WRITER_WAIT_MS}; one whose writer is slow (`<(sleep 1; printf …)`) is waited for.
 * @throws NotFoundError E4 when it does not exist; NotAFileError E48 for a directory or socket, or
 *   a FIFO or pipe that gave no byte; InputTooLargeError E46 past `max` bytes; IoError E12 for
 *   other OS errors, naming the path
 * @see specs/cli.md (bounded inputs)
 */
export async function readFileBounded(path: string, opts: ReadBoundedOptions = {}): Promise<Buffer> {
  const max = opts.max ?? READ_MAX_BYTES;
  const what = opts.what ?? 'the input';
  if (path === '-') {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of process.stdin) {
      chunks.push(c as Buffer);
      n += (c as Buffer).length;
      if (n > max) {
        process.stdin.destroy();
        throw tooLarge('stdin', what, max);
      }
    }
    return Buffer.concat(chunks);
  }
  const regular = readRegularSync(path, what, max);
  if (regular) return regular;
  // stat first: a socket cannot be opened (ENXIO), and deserves its own message.
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw osError(e, path, { notFound: true });
  }
  const refused = notAFile(path, what, st);
  if (refused) throw refused;
  let fh;
  try {
    fh = await open(path, INPUT_OPEN_FLAGS);
    // What was opened (the path may have changed since the stat).
    st = await fh.stat();
  } catch (e) {
    await fh?.close();
    throw osError(e, path, { notFound: true });
  }
  try {
    const again = notAFile(path, what, st);
    if (again) throw again;
    if (st.isFile() && st.size > max) throw tooLarge(path, what, max);
    return await readAll(fh, st, path, what, max);
  } catch (e) {
    throw osError(e, path);
  } finally {
    await fh.close();
  }
}
