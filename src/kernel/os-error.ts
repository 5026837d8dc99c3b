/**
 * The one mapping of operating-system errors (Node's `ErrnoException`) to Eos errors: IoError E12
 * naming the subject, with the errno in `data`; optionally ENOENT as NotFoundError E4. Eos errors
 * pass through unchanged, so a helper that already raised a located error keeps it.
 *
 * @see specs/errors.md
 */
import { EosError, IoError, NotFoundError } from './errors.ts';

/** Options of {@link osError}. */
export interface OsErrorOptions {
  /** Map ENOENT to NotFoundError E4 (`SUBJECT: no such file or directory`) instead of E12. */
  notFound?: boolean;
}

/**
 * The Eos error for an OS error about `subject` (a path, or `write PATH`).
 * shape: `[E12] SUBJECT: <the OS message>` with `data: {path: SUBJECT, errno}`.
 * @see specs/errors.md
 */
export function osError(e: unknown, subject: string, opts: OsErrorOptions = {}): EosError {
  if (e instanceof EosError) return e;
  const err = e as NodeJS.ErrnoException | undefined;
  if (opts.notFound && err?.code === 'ENOENT')
    return new NotFoundError(`${subject}: no such file or directory`, { data: { path: subject }, cause: e });
  return new IoError(`${subject}: ${err?.message ?? String(e)}`, {
    data: { path: subject, errno: err?.code ?? null },
    cause: e,
  });
}

/** True when `e` is an OS error with this code (`ENOENT`, `EEXIST`, …), raw or mapped by {@link osError}. */
export function isOsError(e: unknown, code: string): boolean {
  if (e instanceof EosError) return (e.data as { errno?: unknown }).errno === code;
  return (e as NodeJS.ErrnoException | undefined)?.code === code;
}
