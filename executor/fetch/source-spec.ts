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
import { parseDigest, ManifestError, type Digest } from '../../src/index.ts';

/** One fixed-output source. */
export type SourceSpec =
  | { kind: 'debian-source'; package: string; version: string; digest: Digest }
  | { kind: 'deb'; package: string; version: string; arch?: string; digest: Digest }
  | { kind: 'git'; url: string; commit: string; digest: Digest }
  | { kind: 'path'; path: string; digest: Digest };

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
  switch (o.kind) {
    case 'debian-source':
      return { kind: 'debian-source', package: str('package'), version: str('version'), digest };
    case 'deb':
      return {
        kind: 'deb',
        package: str('package'),
        version: str('version'),
        ...(typeof o.arch === 'string' ? { arch: o.arch } : {}),
        digest,
      };
    case 'git': {
      const commit = str('commit');
      if (!/^[0-9a-f]{40}$/.test(commit))
        throw new ManifestError(`${what}.commit: expected 40 lowercase hex digits`);
      return { kind: 'git', url: str('url'), commit, digest };
    }
    case 'path':
      return { kind: 'path', path: str('path'), digest };
    default:
      throw new ManifestError(
        `${what}.kind: ${JSON.stringify(o.kind)} is not one of debian-source, deb, git, path`,
      );
  }
}
