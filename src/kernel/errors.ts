/**
 * Eos errors: one class per code, each with a stable code `E<n>`, a message that leads with the
 * code and names its subject, a structured `data` payload, an optional hint and the process exit
 * status the CLI uses for it.
 *
 * Codes are never renumbered or reused; the table with meaning, exit status and an example is
 * `specs/errors.md`, and `tests/errors.test.ts` fails when this file and that table disagree.
 *
 * @see specs/errors.md
 */

/** Data attached to an error: plain JSON values only. */
export type ErrorData = Record<string, unknown>;

/** Options common to every Eos error. */
export interface EosErrorOptions {
  /** Structured facts about the failure (file, field, digest, …). */
  data?: ErrorData;
  /** One line telling the user what to do about it. */
  hint?: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * Base class of every error Eos raises on purpose. Subclasses set the static `code` (`E<n>`) and
 * may set the static `exitCode` (default 1). The CLI's top-level handler prints `message` (which
 * is `[E<n>] detail`) and `hint`, and exits with `exitCode`; any other exception is a bug.
 */
export class EosError extends Error {
  /** The stable code of this class, `E<n>`. */
  static readonly code: string = 'E0';
  /** Exit status of the `eos` command when this error ends it. */
  static readonly exitCode: number = 1;
  readonly data: ErrorData;
  readonly hint: string | undefined;
  /** The message without its `[E<n>]` prefix. */
  readonly detail: string;

  constructor(detail: string, opts: EosErrorOptions = {}) {
    detail = elideMiddle(detail, MESSAGE_MAX);
    super(
      `[${(new.target as typeof EosError).code}] ${detail}`,
      opts.cause === undefined ? undefined : { cause: opts.cause },
    );
    this.detail = detail;
    this.data = opts.data ?? {};
    this.hint = opts.hint;
    this.name = new.target.name;
  }

  /** The stable code, `E<n>`. */
  get code(): string {
    return (this.constructor as typeof EosError).code;
  }
  /** Exit status of the `eos` command when this error ends it. */
  get exitCode(): number {
    return (this.constructor as typeof EosError).exitCode;
  }

  /** A JSON form for `--json` output and logs. */
  toJSON(): { code: string; message: string; data: ErrorData; hint?: string } {
    return {
      code: this.code,
      message: this.message,
      data: this.data,
      ...(this.hint ? { hint: this.hint } : {}),
    };
  }
}

/** E1: the command line was used wrongly (unknown option, missing argument). Exit 2. */
export class UsageError extends EosError {
  static override readonly code = 'E1';
  static override readonly exitCode = 2;
}
/** E2: a string is not a digest of the form `blake3:<64 lowercase hex>`. */
export class DigestError extends EosError {
  static override readonly code = 'E2';
}
/** E3: bytes or an object are not in the canonical encoding of their format, or have an unknown version. */
export class EncodingError extends EosError {
  static override readonly code = 'E3';
}
/** E4: an object, tree, key or file that was asked for does not exist. */
export class NotFoundError extends EosError {
  static override readonly code = 'E4';
}
/** E5: a stored object's bytes no longer hash to its digest. */
export class CorruptObjectError extends EosError {
  static override readonly code = 'E5';
}
/** E6: ingest met a file type the store does not hold (socket, device, FIFO) or a name it cannot encode. */
export class UnsupportedFileError extends EosError {
  static override readonly code = 'E6';
}
/** E7: the build closure is incomplete or cyclic (missing recipe, missing dependency, cycle). */
export class BuildClosureError extends EosError {
  static override readonly code = 'E7';
}
/** E8: a name or path is unsafe (`/`, `.`, `..`, NUL, empty, or a path escaping its root). */
export class UnsafePathError extends EosError {
  static override readonly code = 'E8';
}
/** E9: a key is missing, malformed or already exists. */
export class KeyError extends EosError {
  static override readonly code = 'E9';
}
/** E10: a signature was rejected (unknown key, bad signature, or key not trusted for the purpose). */
export class SignatureError extends EosError {
  static override readonly code = 'E10';
}
/** E11: a configuration or policy file is malformed. */
export class ConfigError extends EosError {
  static override readonly code = 'E11';
}
/** E12: an operating-system call failed in a way Eos cannot recover from (disk full, permission). */
export class IoError extends EosError {
  static override readonly code = 'E12';
}
/** E13: a fixed-output source's bytes do not match its pinned digest. */
export class FixedOutputMismatchError extends EosError {
  static override readonly code = 'E13';
}
/** E14: a composefs image or dump file is malformed or cannot be written (limits exceeded). */
export class ComposefsError extends EosError {
  static override readonly code = 'E14';
}
/** E15: an ELF file is malformed or truncated. */
export class ElfFormatError extends EosError {
  static override readonly code = 'E15';
}
/** E16: an `atom.toml` manifest is invalid (located: file, line, field). */
export class ManifestError extends EosError {
  static override readonly code = 'E16';
}
/** E17: version resolution has no solution; the message names the conflicting requirements. */
export class ResolutionError extends EosError {
  static override readonly code = 'E17';
}
/** E18: a composition is invalid (duplicate entry, merge conflict, bad prefix). */
export class CompositionError extends EosError {
  static override readonly code = 'E18';
}
/** E19: an `eos.lock` is malformed, stale, or fails verification. */
export class LockError extends EosError {
  static override readonly code = 'E19';
}
/** E20: an atom claim, publish or verification was refused (immutable version, wrong key, tampered content). */
export class AtomError extends EosError {
  static override readonly code = 'E20';
}
/** E21: the build sandbox could not be set up or was violated. */
export class SandboxError extends EosError {
  static override readonly code = 'E21';
}
/** E22: a build action failed (non-zero exit, time limit). Exit 3. */
export class BuildFailedError extends EosError {
  static override readonly code = 'E22';
  static override readonly exitCode = 3;
}
/** E23: mounting or unmounting an image failed. */
export class MountError extends EosError {
  static override readonly code = 'E23';
}
/** E24: a seed (Debian-seeded toolchain) could not be resolved, fetched or verified. */
export class SeedError extends EosError {
  static override readonly code = 'E24';
}
/** E25: no BLAKE3 implementation could be loaded (neither the native binding nor the WebAssembly build). */
export class HashBackendError extends EosError {
  static override readonly code = 'E25';
}
/** E30: a swapped entry's proof (its `satisfies` or `override` constraint) is not in the store. */
export class SwapProofMissingError extends EosError {
  static override readonly code = 'E30';
}
/** E31: a swap proof does not match its composition (other nodes, entry, or a recomputed proof differs). */
export class SwapProofMismatchError extends EosError {
  static override readonly code = 'E31';
}
/** E32: a replacement node does not cover its consumers in the composition (missing `symbol@VERSION`). Exit 3. */
export class NotCoveredError extends EosError {
  static override readonly code = 'E32';
  static override readonly exitCode = 3;
}
/** E33: a stack file is invalid (located: file, line, field). */
export class StackError extends EosError {
  static override readonly code = 'E33';
}
/** E34: a deployment or generation object is malformed or has an unknown version. */
export class DeploymentError extends EosError {
  static override readonly code = 'E34';
}
/**
 * E35: a host refused a deployment: bad or untrusted signature, a sequence number not above the
 * highest accepted for its channel, expired, or an object that does not hash to its digest.
 * `data.reason` names which. Exit 3.
 */
export class DeployRefusedError extends EosError {
  static override readonly code = 'E35';
  static override readonly exitCode = 3;
}
/** E36: a transport failed: ssh refused the host key or could not connect, or the peer broke the protocol. Exit 3. */
export class TransportError extends EosError {
  static override readonly code = 'E36';
  static override readonly exitCode = 3;
}
/** E37: a host's layout or a request to it is wrong: no such generation, host locked, bad host root. */
export class HostError extends EosError {
  static override readonly code = 'E37';
}
/** E38: activation failed: a service could not be started or stopped. Exit 3. */
export class ActivationError extends EosError {
  static override readonly code = 'E38';
  static override readonly exitCode = 3;
}
/** E39: the build's GNU make jobserver could not be made (mkfifo, open) or was given a bad size. */
export class JobserverError extends EosError {
  static override readonly code = 'E39';
}

/**
 * The longest message detail an error carries (UTF-16 units): a longer one keeps its start and
 * end around `…(N characters elided)…`, so no error quotes a 10 MB path or value whole. The full
 * value stays in the error's `data` where the raiser put it there. specs/errors.md (bounds)
 */
export const MESSAGE_MAX = 2000;

/** `s` shortened to at most about `max` characters by eliding its middle (see {@link MESSAGE_MAX}). */
export function elideMiddle(s: string, max: number): string {
  if (s.length <= max) return s;
  const keep = Math.max(0, max - 40);
  const head = Math.ceil(keep / 2);
  const tail = keep - head;
  return `${s.slice(0, head)}…(${s.length - keep} characters elided)…${tail ? s.slice(-tail) : ''}`;
}

/**
 * A value quoted for an error message: JSON-quoted, and at most `max` characters of it (default
 * 200) with the rest elided. The one way messages quote user-supplied text. specs/errors.md (bounds)
 */
export function quoteValue(v: string, max = 200): string {
  return (
    JSON.stringify(v.length > max ? v.slice(0, max) : v) + (v.length > max ? `…(${v.length} characters)` : '')
  );
}

/** E46: an input is larger than Eos reads for its kind (a signature, a manifest, a JSON object). */
export class InputTooLargeError extends EosError {
  static override readonly code = 'E46';
}
/** E47: a JSON input nests deeper than its format allows (the canonical parser's depth bound). */
export class NestingTooDeepError extends EosError {
  static override readonly code = 'E47';
}
/** E48: a path Eos reads as a file is a directory or socket, or a FIFO or pipe that gave nothing (specs/cli.md §2), named with what it was read for. */
export class NotAFileError extends EosError {
  static override readonly code = 'E48';
}
/** E50: the observed world's FUSE server could not mount, died, or left no record of what was read (`eos build --observe`). */
export class ObserveError extends EosError {
  static override readonly code = 'E50';
}
/** E51: an atom has no observed build to explain (`eos why`: build it with `eos build --observe` first), or a read set is malformed. */
export class NotObservedError extends EosError {
  static override readonly code = 'E51';
}
/** E52: the fetch proxy or its network namespace could not be set up, or it failed during a fetch (`eos fetch`). */
export class FetchProxyError extends EosError {
  static override readonly code = 'E52';
}
/** E53: a replayed fetch asked for something its `fetch.lock` does not record (method and URL named). */
export class UnrecordedRequestError extends EosError {
  static override readonly code = 'E53';
  static override readonly exitCode = 3;
}
/** E54: a `fetch.lock` is malformed, not in its canonical form, or missing where a replay needs it. */
export class FetchLockError extends EosError {
  static override readonly code = 'E54';
}
/** E55: a `fetch.lock` entry names a response body the store does not hold (re-record it). */
export class RecordingMissingError extends EosError {
  static override readonly code = 'E55';
}
/**
 * E58: a binary cache could not be reached or answered wrongly: connection refused, an HTTP status
 * other than 200/404, a transfer cut short, a gRPC error. `data.url` names the cache. Exit 3.
 * @see specs/cache.md §6
 */
export class CacheTransportError extends EosError {
  static override readonly code = 'E58';
  static override readonly exitCode = 3;
}
/**
 * E59: a build record offered by a binary cache was refused: not a valid cache entry for the
 * action asked about, or no signature on it verifies for `builds` by a key the local trust policy
 * trusts for `builds` or `cache`. `data.reason` names which (`malformed`, `bad-signature`,
 * `untrusted`, `unsigned`, …). Nothing of it enters the store. Exit 3.
 * @see specs/cache.md §4
 */
export class CacheRecordRefusedError extends EosError {
  static override readonly code = 'E59';
  static override readonly exitCode = 3;
}
/**
 * E60: an object downloaded from a binary cache was refused: its bytes do not hash to the digest
 * asked for, its size differs from the tree entry's, or the cache lacks it. Nothing of the
 * substitution enters the store. Exit 3.
 * @see specs/cache.md §5
 */
export class CacheObjectRefusedError extends EosError {
  static override readonly code = 'E60';
  static override readonly exitCode = 3;
}
/**
 * E61: `eos build --require-cache`: an action not in the local action cache could not be
 * substituted from any configured cache (none was configured, or none holds it). Exit 3.
 * @see specs/cache.md §3
 */
export class CacheRequiredError extends EosError {
  static override readonly code = 'E61';
  static override readonly exitCode = 3;
}
/**
 * E62: `eos build` of a lock with an atom that has `[fetch]` but no `fetch.lock` beside its
 * `atom.toml`: nothing was built (record it first: `eos fetch DIR --record`). Exit 1.
 * @see specs/fetch.md §7
 */
export class FetchNotRecordedError extends EosError {
  static override readonly code = 'E62';
}
/**
 * E40: a build action exceeded a resource limit (its pids or memory limit, specs/executor.md §4.1):
 * `data.limit` is `pids` or `memory`, `data.max` the limit. Exit 3, like E22.
 */
export class ResourceLimitError extends EosError {
  static override readonly code: string = 'E40';
  static override readonly exitCode = 3;
}
