/**
 * Parse canonical JSON, then validate it with a zod schema, into one located error: the one
 * helper behind every canonical-JSON format's parser (seed locks, interface manifests, …). The
 * value returned has the schema's type (`z.infer`), so parsers need no casts.
 *
 * @see specs/formats.md
 */
import type { z } from 'zod';
import { parseCanonical } from './canonical.ts';
import type { EosError, EosErrorOptions } from './errors.ts';

/** An error class of the kernel (E3 EncodingError, E24 SeedError, …). */
type ErrorClass = new (detail: string, opts?: EosErrorOptions) => EosError;

/**
 * Parses canonical JSON `bytes` and validates them with `schema`.
 * shape of a schema failure: `[E…] WHAT: FIELD.PATH: zod's message` (`$` for the top level),
 * with `data: {what, path}` (and `file` = `what`).
 * @param what names the subject (file) in errors
 * @param error the class of a schema failure (default: the caller's EncodingError)
 * @throws EncodingError E3 when the bytes are not canonical JSON; `error` for a schema failure
 */
export function parseCanonicalWith<S extends z.ZodType>(
  schema: S,
  bytes: Uint8Array,
  what: string,
  error: ErrorClass,
): z.infer<S> {
  const value = parseCanonical(bytes, what);
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const path = issue.path.join('.');
    throw new error(`${what}: ${path || '$'}: ${issue.message}`, { data: { what, file: what, path } });
  }
  return r.data;
}
