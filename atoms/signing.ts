/**
 * What atoms need from keys and signatures: a signer (an owner key that signs record digests for
 * the purpose `atoms`) and a verifier (the local keyring and trust policy). The kernel's signature
 * module provides both (`atoms/keys.ts` builds them from the configuration); tests may build them
 * from the kernel's pure functions.
 *
 * @see specs/signatures.md, specs/atom.md §9.3
 */
import type { Digest } from '../src/kernel/index.ts';

/** Signs record digests with one key, for the purpose `atoms`. */
export interface AtomSigner {
  /** The key id of the signing key. */
  readonly key: Digest;
  /** Returns the detached signature object (specs/signatures.md §3) over `digest`. */
  sign(digest: Digest): Promise<Record<string, unknown>> | Record<string, unknown>;
}

/** An accepted signature. */
export interface SignatureCheck {
  key: Digest;
  /** The key's local name in the keyring. */
  keyName: string;
}

/** Verifies signatures for the purpose `atoms` against a keyring and trust policy. */
export interface AtomVerifier {
  /**
   * Accepts `sig` as a valid, trusted signature over `expected`, or throws an `EosError`
   * (the kernel's SignatureError E10) whose `data.reason` is `untrusted` for a genuine signature
   * by a key that is not trusted for atoms.
   */
  verify(sig: unknown, expected: Digest, what: string): SignatureCheck;
}
