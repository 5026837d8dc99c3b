/**
 * The build record: what one build action produced and from what. Canonical JSON (RFC 8785);
 * its digest identifies it and is what the builder key signs. Pure encode/parse.
 *
 * @see specs/build-record.md
 */
import { digestCanonical, encodeCanonical, type Digest } from '../src/kernel/index.ts';
import type { RecipeArg } from './recipes/recipes.ts';
import type { SeedMode } from './seed/seed-lock.ts';
import type { ShadowedPath } from './world.ts';

/** The format version written. */
export const BUILD_RECORD_VERSION = 1;

/** A build record. */
export interface BuildRecord {
  format: 'eos-build-record';
  version: typeof BUILD_RECORD_VERSION;
  /** The scheduler's action key; null for `eos build-atom` (no scheduler yet). */
  actionId: Digest | null;
  /** The atom's label and version (as given). */
  label: string;
  atomVersion: string;
  recipe: { name: string; identity: Digest; args: Record<string, RecipeArg> };
  seed: { mode: SeedMode; root: Digest };
  /** The merged world tree the build ran in. */
  world: Digest;
  /** Paths where a dependency's file hid a toolchain file (or similar). */
  shadowed: ShadowedPath[];
  sources: Digest[];
  dependencies: { name: string; tree: Digest }[];
  /** The `$OUTPUT` tree. */
  output: Digest;
  /** The blob of the build log (stdout and stderr). */
  log: Digest;
  sourceDateEpoch: number;
  durationMs: number;
  /** Findings about the output: the build directory's path inside files, RPATH/RUNPATH entries. */
  warnings: string[];
}

/** Canonical bytes of a record. @throws EncodingError E3 */
export function encodeBuildRecord(r: BuildRecord): Uint8Array {
  return encodeCanonical(r);
}

/** The record's digest (what a signature signs). */
export function buildRecordDigest(r: BuildRecord): Digest {
  return digestCanonical(r);
}
