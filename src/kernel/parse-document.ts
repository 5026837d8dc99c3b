/**
 * The located parsers behind every document format: canonical JSON validated by a zod schema
 * (seed locks, interface manifests, …; the value has the schema's type, `z.infer`, so parsers need
 * no casts), and TOML with its syntax errors located by line and column and the line of every
 * path at hand for the format's own field errors (`atom.toml`, `eos.lock`, `trust.toml`,
 * composition TOML, stack files).
 *
 * @see specs/formats.md
 */
import type { z } from 'zod';
import { parseCanonical } from './canonical.ts';
import { lazySmolToml } from './lazy-modules.ts';
import type { EosError, EosErrorOptions } from './errors.ts';
import { locateToml, type TomlPath } from './toml-locate.ts';

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

/** A TOML syntax error's position and first message line (smol-toml's prefix removed). */
export interface TomlSyntaxProblem {
  line: number;
  column: number;
  message: string;
}

/** Options of {@link parseTomlLocated}. */
export interface ParseTomlOptions {
  /**
   * The detail of a syntax error (default `WHAT:LINE:COLUMN: MESSAGE`); formats that documented
   * another shape keep it through this.
   */
  syntax?: (p: TomlSyntaxProblem) => string;
}

/**
 * Parses a TOML text into its document and the lines of its paths: the one helper behind every
 * TOML format's parser (`atom.toml`, `eos.lock`, `trust.toml`, composition TOML, stack files).
 * shape of a syntax failure: `[E…] WHAT:LINE:COLUMN: smol-toml's first message line`, with
 * `data: {file: what, line, column}`.
 * @param what names the subject (file) in errors
 * @param error the caller's error class (E16 ManifestError, E19 LockError, …)
 * @throws `error` for a syntax error
 * @see specs/formats.md
 */
export function parseTomlLocated(
  text: string,
  what: string,
  error: ErrorClass,
  opts: ParseTomlOptions = {},
): { doc: Record<string, unknown>; lineOf: (path: TomlPath) => number | undefined } {
  let doc: Record<string, unknown>;
  const toml = lazySmolToml();
  try {
    doc = toml.parse(text) as Record<string, unknown>;
  } catch (e) {
    if (!(e instanceof toml.TomlError)) throw e;
    const p = {
      line: e.line,
      column: e.column,
      message: (e.message.split('\n')[0] ?? 'invalid TOML').replace(/^Invalid TOML document: /, ''),
    };
    throw new error(opts.syntax ? opts.syntax(p) : `${what}:${p.line}:${p.column}: ${p.message}`, {
      data: { file: what, line: p.line, column: p.column },
    });
  }
  // Located only when a line is asked for (an error to word): a valid document is never scanned twice.
  let loc: ReturnType<typeof locateToml> | undefined;
  return { doc, lineOf: (path) => (loc ??= locateToml(text)).lineOf(path) };
}
