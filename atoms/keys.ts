/**
 * Signers and verifiers for atoms from the kernel's keys and signatures (I/O: reads the key files,
 * the keyring and the trust policy of a configuration directory).
 *
 * @see specs/signatures.md, atoms/signing.ts
 */
import {
  readKeyring,
  readSecretKey,
  readTrustPolicy,
  signDigest,
  verifySignature,
  type Digest,
  type Keyring,
  type TrustPolicy,
} from '../src/kernel/index.ts';
import type { AtomSigner, AtomVerifier } from './signing.ts';

/**
 * A signer for the secret key `<config>/keys/<name>.key`, signing for the purpose `atoms`.
 * @throws KeyError E9 when there is no such secret key or it is unsafe
 */
export async function signerFromKey(config: string, name: string): Promise<AtomSigner> {
  const k = await readSecretKey(config, name);
  return { key: k.id, sign: (d: Digest) => ({ ...signDigest(d, 'atoms', k.seed) }) };
}

/** A verifier over a keyring and a trust policy (pure once they are read). */
export function verifierFrom(keyring: Keyring, policy: TrustPolicy): AtomVerifier {
  return {
    verify(sig, expected, what) {
      const v = verifySignature(sig, expected, 'atoms', keyring, policy, what);
      return { key: v.key, keyName: v.keyName };
    },
  };
}

/**
 * The verifier of a configuration directory: its keyring and its trust policy (purpose `atoms`).
 * @throws KeyError E9 / ConfigError E11 when a key file or `trust.toml` is malformed
 */
export async function verifierFromConfig(config: string): Promise<AtomVerifier> {
  const [keyring, policy] = await Promise.all([readKeyring(config), readTrustPolicy(config)]);
  return verifierFrom(keyring, policy);
}
