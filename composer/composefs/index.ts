/**
 * composefs images: the in-memory tree, the dump format, the EROFS writer and reader, fs-verity
 * digests, and (I/O) file helpers and kernel mounting.
 * @see specs/composefs.md
 */
export * from './tree.ts';
export { parseDump, encodeDump } from './dump.ts';
export { encodeImage, imageVersion } from './writer.ts';
export type { ImageOptions } from './writer.ts';
export { computeFsVerityDigest, FsVerityHasher } from './fsverity.ts';
export { parseImage } from './reader.ts';
export type { ImageInfo } from './reader.ts';
export { readDumpFile, readImageFile, treeFromDirectory, objectPath } from './io.ts';
export type { FromDirectoryOptions } from './io.ts';
export {
  checkOverlayPath,
  erofsMountOptions,
  imageHasAcl,
  mountImage,
  overlayMountOptions,
  unmountImage,
} from './mount.ts';
export type { MountOptions } from './mount.ts';
