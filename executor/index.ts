/**
 * The executor: seeds (Debian- or host-bootstrapped toolchain trees), worlds, the bubblewrap
 * sandbox, fixed-output sources, recipes, and building one atom into an output tree with a
 * build record.
 *
 * @see specs/executor.md, specs/seed.md
 */
export { runProc, mapLimit, type ProcResult } from './proc.ts';
export {
  parseDeb822Sources,
  parseOneLineSources,
  encodePrivateSources,
  type AptSource,
} from './seed/apt-sources.ts';
export { parseDpkgStatus, dependencyClosure, type DpkgPackage } from './seed/dpkg-status.ts';
export {
  encodeSeedLock,
  parseSeedLock,
  seedRoot,
  SEED_LOCK_VERSION,
  type SeedLock,
  type SeedMode,
  type SeedPackage,
} from './seed/seed-lock.ts';
export { fixupEntries, USRMERGE_DIRS, type FixupEntry } from './seed/fixups.ts';
export { normalizeUsrmerge, usrmergePath } from './seed/normalize.ts';
export { PrivateApt, readHostAptSources, type ResolvedPackage } from './seed/apt.ts';
export {
  exportSeed,
  importSeed,
  seedArchiveDebName,
  SEED_ARCHIVE_LOCK,
  type SeedExportReport,
  type SeedImportReport,
} from './seed/archive.ts';
export {
  ensureSeed,
  readSeedLock,
  unpackDeb,
  importHostPackageInto,
  unpackDebInto,
  ingestPackageDirs,
  ingestFixups,
  stagingDir,
  DEFAULT_SEED_PACKAGES,
  seedVersionChanges,
  formatSeedChanges,
  summarizeSeedChanges,
  type SeedOptions,
  type SeedReport,
  type SeedVersionChange,
} from './seed/seed.ts';
export {
  buildWorld,
  buildLayeredWorld,
  worldLayerImage,
  worldTree,
  MAX_LAYERED_DEPENDENCIES,
  type LayeredWorld,
  materializeWorld,
  seedLayers,
  dependencyLayer,
  worldComposition,
  chooseWorldMount,
  worldImage,
  type WorldMount,
  PRECEDENCE,
  type World,
  type WorldLayer,
  type ShadowedPath,
} from './build-world.ts';
export {
  runSandbox,
  bwrapArgs,
  sandboxEnv,
  SANDBOX_BUILD_DIR,
  SANDBOX_OUTPUT_DIR,
  SANDBOX_MOUNT_POINTS,
  SANDBOX_KILL_GRACE_MS,
  cancelledError,
  sweepSandboxMounts,
  SandboxWorlds,
  SANDBOX_WORLDS_MAX_IDLE,
  type SandboxWorldsStats,
  type WorldLease,
  type ComposefsRoot,
  type SandboxSpec,
  type SandboxResult,
  type SandboxNetwork,
  SANDBOX_CAPABILITIES,
  sandboxSeccompFd,
} from './sandbox.ts';
export {
  actionLimits,
  cgroup2MountOf,
  defaultLimits,
  defaultMaxMemory,
  DEFAULT_MAX_PIDS,
  enterPrefix,
  parseControllerList,
  probeCgroup2,
  removeCgroup2,
  sweepDeadActionCgroups,
  type ActionLimits,
  type Cgroup2Probe,
  type LimitMechanism,
  type ResourceLimits,
} from './sandbox-limits.ts';
// Fixed-output sources and the fetch proxy: the fetch barrel, whole (specs/executor.md §5, specs/fetch.md).
export * from './fetch/index.ts';
export {
  loadRecipe,
  recipeIdentity,
  recipeEnv,
  STD_RECIPES,
  type Recipe,
  type RecipeArg,
} from './recipes/recipes.ts';
export { buildAtom, checkOutput, prefetchActionWorld, type BuildRequest, type BuildResult } from './build.ts';
export * from './observe/index.ts';
