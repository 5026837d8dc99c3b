/**
 * `seed.lock`: the pinned seed set (one entry per package: name, version, architecture, the
 * `.deb`'s sha256 from the signed index, the `.deb`'s blob digest and its normalized tree digest)
 * plus the fixups entry, in the bootstrap mode that made it. Canonical JSON (RFC 8785), so its
 * digest (the seed root) is stable; the build key includes it. Pure encode/parse.
 *
 * @see specs/seed.md §1
 */
import { digestSchema } from '../digest-schema.ts';
import {
  digestCanonical,
  encodeCanonical,
  lazySchemas,
  parseCanonicalWith,
  SeedError,
  type Digest,
} from '../../src/kernel/index.ts';

/** The format version written and accepted. */
export const SEED_LOCK_VERSION = 1;

/** How the seed's package trees were obtained. */
export type SeedMode = 'debian' | 'host';

/** One seed package. */
export interface SeedPackage {
  /** Debian package name. */
  name: string;
  /** Exact Debian version (with epoch if any). */
  version: string;
  /** Debian architecture (`amd64`, `all`). */
  arch: string;
  /** sha256 hex of the `.deb` as the signed Packages index gives it; null in host mode. */
  debSha256: string | null;
  /** Blob digest of the `.deb` in the store; null in host mode. */
  deb: Digest | null;
  /** The normalized (usrmerged) tree of its files. */
  tree: Digest;
}

/** A seed lock. */
export interface SeedLock {
  format: 'eos-seed-lock';
  version: typeof SEED_LOCK_VERSION;
  mode: SeedMode;
  /** The host architecture the seed is for. */
  arch: string;
  /** The requested package names (the closure's roots), sorted. */
  roots: string[];
  /** The closure, sorted by name. */
  packages: SeedPackage[];
  /** The fixups entry: the tree of what maintainer scripts would have made. */
  fixups: Digest;
}

/** The zod schema, made on first use (src/kernel/lazy-modules.ts). */
const lockSchema = lazySchemas((z) => {
  return z
    .object({
      format: z.literal('eos-seed-lock'),
      version: z.literal(SEED_LOCK_VERSION),
      mode: z.enum(['debian', 'host']),
      arch: z.string().min(1),
      roots: z.array(z.string().min(1)),
      packages: z.array(
        z
          .object({
            name: z.string().min(1),
            version: z.string().min(1),
            arch: z.string().min(1),
            debSha256: z
              .string()
              .regex(/^[0-9a-f]{64}$/)
              .nullable(),
            deb: digestSchema().nullable(),
            tree: digestSchema(),
          })
          .strict(),
      ),
      fixups: digestSchema(),
    })
    .strict();
});

function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Encodes a seed lock canonically (packages sorted by name, roots sorted). @throws EncodingError E3 */
export function encodeSeedLock(lock: SeedLock): Uint8Array {
  return encodeCanonical({
    ...lock,
    roots: [...lock.roots].sort(),
    packages: [...lock.packages].sort(byName),
  });
}

/**
 * Parses `seed.lock` bytes.
 * @param what the file name, for errors
 * @throws EncodingError E3 when not canonical JSON; SeedError E24 when a field is wrong
 */
export function parseSeedLock(bytes: Uint8Array, what = 'seed.lock'): SeedLock {
  const lock: SeedLock = parseCanonicalWith(lockSchema(), bytes, what, SeedError);
  for (let i = 1; i < lock.packages.length; i++)
    if (byName(lock.packages[i - 1]!, lock.packages[i]!) >= 0)
      throw new SeedError(`${what}: packages are not sorted by unique name at ${lock.packages[i]!.name}`);
  if (lock.mode === 'debian' && lock.packages.some((p) => p.debSha256 === null || p.deb === null))
    throw new SeedError(`${what}: a debian-mode seed needs debSha256 and deb for every package`);
  return lock;
}

/** The seed root: the digest of the lock's canonical encoding (part of every build key). */
export function seedRoot(lock: SeedLock): Digest {
  return digestCanonical(JSON.parse(Buffer.from(encodeSeedLock(lock)).toString()));
}
