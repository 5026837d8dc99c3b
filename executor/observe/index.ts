/**
 * Observation: the FUSE world server that records what a build reads, read sets, and what they
 * say about a world (`eos why`, prune hints).
 *
 * @see specs/observe.md
 */
export {
  observeAvailable,
  startWorldServer,
  readSetFromEvents,
  providers,
  type ObserveAvailability,
  type ServerEvents,
  type WorldServer,
} from './observe.ts';
export {
  READ_SET_FORMAT,
  READ_SET_VERSION,
  READ_OPS,
  makeReadSet,
  validateReadSet,
  encodeReadSet,
  readSetDigest,
  parseReadSet,
  type ReadOp,
  type ReadKind,
  type ReadPath,
  type ReadSet,
} from './read-set.ts';
export {
  explainReadSet,
  explainPath,
  loadReadSet,
  worldLayers,
  isRead,
  FileCounter,
  type EntryUse,
  type ReadSetReport,
  type PathProvenance,
} from './why.ts';
