/**
 * The content-addressed store: trees (pure), the store interfaces, the memory and filesystem
 * backends, and `openStore`.
 *
 * @see specs/store.md
 */
export * from './tree.ts';
export * from './types.ts';
export * from './children-present.ts';
export * from './memory.ts';
export {
  Store,
  type IngestResult,
  type IngestOptions,
  type RootEntry,
  type StoreReadTrace,
} from './fs-store.ts';
export type { MaterializeOptions, MaterializeReport } from './materialize.ts';
export type {
  VerifyOptions,
  VerifyReport,
  VerifyProblem,
  GcOptions,
  GcReport,
  StoreStats,
} from './maintenance.ts';
export { openStore } from './open.ts';
export {
  checkObjects,
  objectsOfTree,
  verifiedRecord,
  type ObjectUse,
  type CheckReport,
} from './checked-read.ts';
export { VerifiedRecord, PRIVATE_DIR, statKey, type ObjectFileKind } from './verified.ts';
export { digestPath, probeDigest } from './probe.ts';
export { STORE_FORMAT_VERSION } from './layout.ts';
