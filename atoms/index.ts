/**
 * Atoms: manifests (`atom.toml`), version resolution, the lock (`eos.lock`) and the git-backed
 * atom repository (claim, publish, verify). Other subsystems import atoms only through this file.
 *
 * @see specs/atom.md, specs/lock.md
 */
export * from './atom-manifest.ts';
export * from './resolve.ts';
export * from './lock-file.ts';
export * from './records.ts';
export * from './content-digest.ts';
export * from './signing.ts';
export * from './keys.ts';
export * from './repo.ts';
export * from './lock-plan.ts';
export * from './workspace.ts';
