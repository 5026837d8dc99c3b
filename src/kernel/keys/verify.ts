/**
 * Signature verification, pure: checks a detached signature against the digest the caller
 * expects, the purpose it asks about, the keyring and the trust policy, and says exactly why a
 * signature is rejected.
 *
 * @see specs/signatures.md §6 (verification algorithm and rejection reasons)
 */
import type { Digest } from '../digest.ts';
import { EncodingError, SignatureError } from '../errors.ts';
import { verifyMessage, type KeyId } from './ed25519.ts';
import type { Keyring } from './keyring.ts';
import type { Purpose } from './purpose.ts';
import { signatureMessage, validateSignature, type Signature } from './signature.ts';
import { trustedPurposes, type TrustPolicy } from './trust-policy.ts';

/**
 * Why a signature was rejected (`SignatureError.data.reason`), in the order they are checked:
 * - `malformed`: not a valid version-1 signature object;
 * - `wrong-digest`: it signs another digest than the one expected;
 * - `wrong-purpose`: it was made for another purpose than the one asked about;
 * - `unknown-key`: its key id is not in the keyring;
 * - `bad-signature`: the Ed25519 signature does not verify with that key;
 * - `untrusted`: valid, but the key is not trusted for this purpose.
 */
export type RejectionReason =
  'malformed' | 'wrong-digest' | 'wrong-purpose' | 'unknown-key' | 'bad-signature' | 'untrusted';

/** Every rejection reason, in checking order. */
export const REJECTION_REASONS: readonly RejectionReason[] = [
  'malformed',
  'wrong-digest',
  'wrong-purpose',
  'unknown-key',
  'bad-signature',
  'untrusted',
];

/** An accepted signature: the digest it vouches for, the key (and its local name) and the purpose. */
export interface VerifiedSignature {
  signed: Digest;
  purpose: Purpose;
  key: KeyId;
  keyName: string;
  signature: Signature;
}

function reject(
  reason: RejectionReason,
  detail: string,
  data: Record<string, unknown>,
  hint?: string,
): never {
  throw new SignatureError(detail, { data: { reason, ...data }, ...(hint ? { hint } : {}) });
}

/**
 * Verifies one detached signature.
 * @param sig the signature object (validated here again, so it may come from anywhere)
 * @param expected the digest the caller wants vouched for
 * @param purpose what the caller wants it vouched for
 * @param what names the signature (file) in messages
 * @returns the accepted signature with its signer
 * @throws SignatureError E10 with `data.reason` one of {@link RejectionReason}
 * @see specs/signatures.md §6
 */
export function verifySignature(
  sig: Signature | unknown,
  expected: Digest,
  purpose: Purpose,
  keyring: Keyring,
  policy: TrustPolicy,
  what = 'signature',
): VerifiedSignature {
  let s: Signature;
  try {
    s = validateSignature(sig, what);
  } catch (e) {
    if (!(e instanceof EncodingError)) throw e;
    return reject('malformed', `${e.detail} (malformed signature)`, { what });
  }
  const base = { what, key: s.key, signed: s.signed, expected, purpose };
  if (s.signed !== expected)
    reject('wrong-digest', `${what} signs ${s.signed}, not the expected ${expected} (wrong digest)`, base);
  if (s.purpose !== purpose)
    reject(
      'wrong-purpose',
      `${what} by key ${s.key} was made for "${s.purpose}", not "${purpose}" (wrong purpose)`,
      { ...base, signedPurpose: s.purpose },
    );
  const entry = keyring.byId.get(s.key);
  if (!entry)
    reject(
      'unknown-key',
      `${what} is by key ${s.key}, which is not in the keyring ${keyring.source} (unknown key)`,
      base,
      "import the signer's public key with `eos key import FILE`",
    );
  const who = `key ${s.key} ("${entry.name}")`;
  const ok = verifyMessage(
    Uint8Array.from(Buffer.from(s.signature, 'hex')),
    signatureMessage(s.signed, s.purpose),
    entry.publicKey,
  );
  if (!ok)
    reject('bad-signature', `${what} by ${who} over ${s.signed} does not verify (bad signature)`, {
      ...base,
      keyName: entry.name,
    });
  if (!policy.purposes[purpose].includes(s.key)) {
    const others = trustedPurposes(policy, s.key);
    reject(
      'untrusted',
      `${what} by ${who} is valid but the key is not trusted for "${purpose}" (trusted for: ${others.join(', ') || 'nothing'})`,
      { ...base, keyName: entry.name, trustedFor: others },
      `if you trust it: eos key trust ${entry.name} --for ${purpose}`,
    );
  }
  return { signed: s.signed, purpose, key: s.key, keyName: entry.name, signature: s };
}

/** The outcome for each of several signatures over one digest. */
export interface SignatureSetResult {
  accepted: VerifiedSignature[];
  rejected: { signature: unknown; error: SignatureError }[];
}

/**
 * Verifies several signatures over one digest (an object may carry any number); never throws
 * for a rejection, so the caller can require one, all, or a quorum.
 * @see specs/signatures.md §6.3
 */
export function verifySignatures(
  sigs: readonly unknown[],
  expected: Digest,
  purpose: Purpose,
  keyring: Keyring,
  policy: TrustPolicy,
): SignatureSetResult {
  const out: SignatureSetResult = { accepted: [], rejected: [] };
  sigs.forEach((sig, i) => {
    try {
      out.accepted.push(verifySignature(sig, expected, purpose, keyring, policy, `signature #${i + 1}`));
    } catch (e) {
      if (!(e instanceof SignatureError)) throw e;
      out.rejected.push({ signature: sig, error: e });
    }
  });
  return out;
}
