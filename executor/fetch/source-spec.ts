/**
 * Fixed-output source specifications (the `[[source]]` kinds of `atom.toml`): what to fetch and
 * the digest its bytes must have. Pure: validation only.
 *
 * The pinned digest is: for `debian-source`, `deb` and `path`, the blake3 of the file's bytes
 * (the orig tarball, the `.deb`, the file); for `git`, and for a `path` naming a directory, the store
 * tree digest of the files.
 *
 * @see specs/executor.md §5
 */
import { parseDigest, ManifestError, type Digest } from '../../src/kernel/index.ts';

/** Keys every source kind may carry (specs/atom.md §6). */
interface SourceCommon {
  digest: Digest;
  /** Where a non-first source is placed: `/build/sources/<name>` (default: its index). */
  name?: string;
  /** Unpack a tarball (default: true for debian-source and path, false for deb; trees always). */
  unpack?: boolean;
}

/** One fixed-output source; structurally the same as the atoms manifest's `SourceSpec`. */
export type SourceSpec =
  | ({ kind: 'debian-source'; package: string; version: string } & SourceCommon)
  | ({ kind: 'deb'; package: string; version: string; arch?: string } & SourceCommon)
  | ({ kind: 'git'; url: string; commit: string } & SourceCommon)
  | ({ kind: 'path'; path: string } & SourceCommon);

/** A fetched source as it sits in the store. */
export interface FetchedSource {
  spec: SourceSpec;
  /** Equal to `spec.digest`. */
  digest: Digest;
  /** `file` for a blob (tarball, .deb, file), `tree` for a directory (git). */
  kind: 'file' | 'tree';
  /** True when the store already held it and nothing was fetched. */
  cached: boolean;
}

/** A short human name for a source (used in errors and records). */
export function describeSource(s: SourceSpec): string {
  switch (s.kind) {
    case 'debian-source':
      return `debian-source ${s.package}=${s.version}`;
    case 'deb':
      return `deb ${s.package}=${s.version}`;
    case 'git':
      return `git ${s.url}@${s.commit}`;
    case 'path':
      return `path ${s.path}`;
  }
}

/**
 * Validates a source object (as parsed from TOML or JSON).
 * @param what names the subject in errors (e.g. `atom.toml: source[0]`)
 * @throws ManifestError E16 for an unknown kind or a missing/ill-typed field; DigestError E2
 */
export function parseSourceSpec(v: unknown, what = 'source'): SourceSpec {
  if (typeof v !== 'object' || v === null) throw new ManifestError(`${what}: not a table`);
  const o = v as Record<string, unknown>;
  const str = (k: string): string => {
    if (typeof o[k] !== 'string' || !o[k])
      throw new ManifestError(`${what}.${k}: expected a non-empty string`);
    return o[k] as string;
  };
  const digest = parseDigest(o.digest, `${what}.digest`);
  if (o.name !== undefined && (typeof o.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(o.name)))
    throw new ManifestError(`${what}.name: expected a plain file name`);
  if (o.unpack !== undefined && typeof o.unpack !== 'boolean')
    throw new ManifestError(`${what}.unpack: expected a boolean`);
  const common = {
    digest,
    ...(o.name !== undefined ? { name: o.name as string } : {}),
    ...(o.unpack !== undefined ? { unpack: o.unpack as boolean } : {}),
  };
  switch (o.kind) {
    case 'debian-source':
      return { kind: 'debian-source', package: str('package'), version: str('version'), ...common };
    case 'deb':
      return {
        kind: 'deb',
        package: str('package'),
        version: str('version'),
        ...(typeof o.arch === 'string' ? { arch: o.arch } : {}),
        ...common,
      };
    case 'git': {
      const commit = str('commit');
      if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(commit))
        throw new ManifestError(`${what}.commit: expected 40 or 64 lowercase hex digits`);
      return { kind: 'git', url: str('url'), commit, ...common };
    }
    case 'path':
      return { kind: 'path', path: str('path'), ...common };
    default:
      throw new ManifestError(
        `${what}.kind: ${JSON.stringify(o.kind)} is not one of debian-source, deb, git, path`,
      );
  }
}
