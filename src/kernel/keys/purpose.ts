/**
 * Purposes: what a signature vouches for. A key is trusted per purpose, and the purpose is part
 * of the signed bytes, so a signature made for one purpose never counts for another.
 *
 * @see specs/signatures.md §2 (signed bytes), §5 (trust policy)
 */

/**
 * Every purpose, in the order they are listed: atom publish records, build records, compositions,
 * deployments, and `cache`: a key trusted only for build records that arrive from a binary cache
 * (specs/cache.md §4; its records are signed with purpose `builds`, so `cache` is a trust-policy
 * purpose that no signature names).
 */
export const PURPOSES = ['atoms', 'builds', 'compositions', 'deploy', 'cache'] as const;

/** One of {@link PURPOSES}. */
export type Purpose = (typeof PURPOSES)[number];

/** True when `s` names a purpose. */
export function isPurpose(s: unknown): s is Purpose {
  return typeof s === 'string' && (PURPOSES as readonly string[]).includes(s);
}
