/**
 * Reading a whole input with a bound: the one way Eos reads a file (or stdin) that it parses whole
 * (signatures, manifests, the trust policy). An endless or huge input (`/dev/zero`) is a named
 * error after at most `max + 1` bytes, never a hang or an out-of-memory; a directory or socket is
 * a named error saying what the file was read for, never a bare `EISDIR`.
 *
 * @see specs/errors.md (bounds)
 */
import { open, stat } from 'node:fs/promises';
import { InputTooLargeError, NotAFileError } from './errors.ts';
import { osError } from './os-error.ts';

/** The bound on a signature, atom manifest or trust policy read whole: 1 MiB. */
export const READ_MAX_BYTES = 1 << 20;

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

/**
 * Reads all of `path` (a regular file, or a FIFO or character device, which are read up to the
 * bound). `path` is `-` for stdin.
 * @throws NotFoundError E4 when it does not exist; NotAFileError E48 for a directory or socket;
 *   InputTooLargeError E46 past `max` bytes; IoError E12 for other OS errors, naming the path
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
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw osError(e, path, { notFound: true });
  }
  if (st.isDirectory() || st.isSocket())
    throw new NotAFileError(
      `${path}: the ${what} is a ${st.isDirectory() ? 'directory' : 'socket'}, not a file`,
      {
        data: { path },
      },
    );
  if (st.isFile() && st.size > max) throw tooLarge(path, what, max);
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw osError(e, path, { notFound: true });
  }
  try {
    const buf = Buffer.allocUnsafe(max + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > max) throw tooLarge(path, what, max);
    }
    return Buffer.from(buf.subarray(0, n));
  } catch (e) {
    throw osError(e, path);
  } finally {
    await fh.close();
  }
}
