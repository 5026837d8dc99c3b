/**
 * The composer: compositions (the signed map from entry names to content digests), their merge
 * rules and merged view, diffs, TOML authoring, images and worlds.
 *
 * @see specs/composition.md
 */
export * from './composition.ts';
export * from './view-tree.ts';
export * from './merge.ts';
export * from './diff.ts';
export * from './authoring.ts';
export * from './memory-trees.ts';
export * from './world-runner.ts';
export * from './seccomp.ts';
export * from './compose-store.ts';
export * from './composefs/index.ts';
export * from './image.ts';
export * from './image-store.ts';
export * from './run-composition.ts';
export * from './soname-index.ts';
export * from './swap-proof.ts';
export * from './swap.ts';
export * from './cache-check.ts';
