/**
 * Binary caches: substitution of actions from caches on existing servers (a static HTTP file tree,
 * a REAPI v2 CAS), pushing signed build records and their output closures there, and the mapping
 * of an Eos action to REAPI's Action, Command and input-root Directory.
 *
 * @see specs/cache.md, specs/reapi.md
 */
export * from './backend.ts';
export * from './closure.ts';
export * from './config.ts';
export * from './http.ts';
export * from './open.ts';
export * from './push.ts';
export * from './reapi.ts';
export * from './substituter.ts';
export * from './reapi-action.ts';
