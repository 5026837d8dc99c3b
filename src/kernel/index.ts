/**
 * The Eos kernel: digests, canonical encoding, errors and configuration. Subsystems import the
 * kernel only through this file.
 */
export * from './errors.ts';
export * from './digest.ts';
export * from './canonical.ts';
export * from './config.ts';
export * from './os-error.ts';
export * from './read-bounded.ts';
export * from './atomic-write.ts';
export * from './pid-file.ts';
export * from './lazy-modules.ts';
export * from './parse-document.ts';
export * from './toml-locate.ts';
export * from './store/index.ts';
export * from './keys/index.ts';
export * from './stat-memo.ts';
export * from './tls-trust.ts';
