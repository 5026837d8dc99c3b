/**
 * Keys and signatures: Ed25519 keys with key ids, detached signatures over digests, key files,
 * the keyring, the trust policy and verification with exact rejection reasons.
 *
 * @see specs/signatures.md
 */
export {
  SEED_BYTES,
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
  keyPairFromSeed,
  keyIdOf,
  checkPublicKey,
  signMessage,
  verifyMessage,
  type KeyId,
  type KeyPair,
} from './ed25519.ts';
export { PURPOSES, isPurpose, type Purpose } from './purpose.ts';
export {
  SIGNATURE_VERSION,
  SIGNATURE_DOMAIN,
  signatureMessage,
  signDigest,
  validateSignature,
  encodeSignature,
  parseSignature,
  type Signature,
} from './signature.ts';
export {
  PUBLIC_KEY_TAG,
  SECRET_KEY_TAG,
  KEY_ALGORITHM,
  isKeyName,
  checkKeyName,
  encodePublicKeyText,
  parsePublicKeyText,
  encodeSecretKeyText,
  parseSecretKeyText,
  type PublicKeyText,
} from './key-file.ts';
export { makeKeyring, findKey, type Keyring, type KeyringEntry } from './keyring.ts';
export {
  TRUST_POLICY_VERSION,
  emptyTrustPolicy,
  parseTrustPolicy,
  encodeTrustPolicy,
  trustKey,
  untrustKey,
  trustedPurposes,
  type TrustPolicy,
} from './trust-policy.ts';
export {
  REJECTION_REASONS,
  verifySignature,
  verifySignatures,
  type RejectionReason,
  type VerifiedSignature,
  type SignatureSetResult,
} from './verify.ts';
export {
  keysDirOf,
  trustPolicyPathOf,
  readKeyring,
  readSecretKey,
  generateKey,
  exportPublicKey,
  importPublicKey,
  readTrustPolicy,
  writeTrustPolicy,
  signWithKey,
  readTrustContext,
  verifySignatureWithConfig,
  verifySignatureBytes,
  type TrustContext,
} from './key-store.ts';
