/**
 * Keys and trust on disk (I/O): the keys directory `<config>/keys/` (`<name>.key` secret keys,
 * mode 0600; `<name>.pub` public keys, own and imported) and the trust policy
 * `<config>/trust.toml`. Supplies randomness for key generation; everything else is delegated to
 * the pure modules.
 *
 * @see specs/signatures.md §4 (key files), §5 (trust policy file)
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Digest } from '../digest.ts';
import { EncodingError, KeyError, NotFoundError, SignatureError } from '../errors.ts';
import { removeDeadTemps, writeFileAtomic } from '../atomic-write.ts';
import { isOsError } from '../os-error.ts';
import { readFileBounded } from '../read-bounded.ts';
import { keyPairFromSeed, SEED_BYTES, type KeyId, type KeyPair } from './ed25519.ts';
import {
  checkKeyName,
  encodePublicKeyText,
  encodeSecretKeyText,
  isKeyName,
  parsePublicKeyText,
  parseSecretKeyText,
} from './key-file.ts';
import { findKey, makeKeyring, type Keyring, type KeyringEntry } from './keyring.ts';
import type { Purpose } from './purpose.ts';
import { parseSignature, signDigest, type Signature } from './signature.ts';
import { emptyTrustPolicy, encodeTrustPolicy, parseTrustPolicy, type TrustPolicy } from './trust-policy.ts';
import { verifySignature, type VerifiedSignature } from './verify.ts';

/** The keys directory of a configuration directory: `<config>/keys`. */
export function keysDirOf(config: string): string {
  return join(config, 'keys');
}

/** The trust policy file of a configuration directory: `<config>/trust.toml`. */
export function trustPolicyPathOf(config: string): string {
  return join(config, 'trust.toml');
}

function isMissing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if (isMissing(e)) return false;
    throw e;
  }
}

/**
 * Reads the keyring: every `<name>.pub` in `<config>/keys` (and, for a `<name>.key` whose
 * `.pub` is missing, its derived public key). Dot files (temporaries) and other names are ignored.
 * A missing directory is an empty keyring.
 * @throws KeyError E9 naming the file when one is malformed, its name disagrees with its content,
 *   or a `.pub` does not match the `.key` beside it
 */
export async function readKeyring(config: string): Promise<Keyring> {
  const dir = keysDirOf(config);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if (isMissing(e)) return makeKeyring([], dir);
    throw e;
  }
  const secrets = new Set(names.filter((n) => n.endsWith('.key')).map((n) => n.slice(0, -4)));
  const publics = new Set(names.filter((n) => n.endsWith('.pub')).map((n) => n.slice(0, -4)));
  const entries: KeyringEntry[] = [];
  for (const stem of [...new Set([...secrets, ...publics])].sort()) {
    if (!isKeyName(stem)) continue;
    if (publics.has(stem)) {
      const file = join(dir, `${stem}.pub`);
      const k = parsePublicKeyText(await readFile(file), file);
      if (k.name !== stem)
        throw new KeyError(`${file}: names the key "${k.name}", but its file name says "${stem}"`, {
          data: { file },
        });
      if (secrets.has(stem)) {
        const kp = await readSecretKey(config, stem);
        if (kp.id !== k.id)
          throw new KeyError(`${file}: does not match the secret key ${stem}.key beside it (${kp.id})`, {
            data: { file, name: stem, dir },
          });
      }
      entries.push({ name: stem, id: k.id, publicKey: k.publicKey, hasSecret: secrets.has(stem) });
    } else {
      const kp = await readSecretKey(config, stem);
      entries.push({ name: stem, id: kp.id, publicKey: kp.publicKey, hasSecret: true });
    }
  }
  return makeKeyring(entries, dir);
}

/**
 * Reads a secret key `<config>/keys/<name>.key`.
 * @throws KeyError E9 when the name is invalid, there is no such secret key (naming the key and
 *   the directory), the file is readable by group or others, or it is malformed
 */
export async function readSecretKey(config: string, name: string): Promise<{ name: string } & KeyPair> {
  const dir = keysDirOf(config);
  checkKeyName(name, dir);
  const file = join(dir, `${name}.key`);
  let bytes: Buffer;
  let mode: number;
  try {
    mode = (await stat(file)).mode & 0o777;
    bytes = await readFile(file);
  } catch (e) {
    if (!isMissing(e)) throw e;
    const pub = await exists(join(dir, `${name}.pub`));
    throw new KeyError(
      pub
        ? `key "${name}" in ${dir} is a public key only: no secret key to sign with`
        : `no key named "${name}" in ${dir}`,
      { data: { name, dir }, hint: pub ? undefined : 'create one with `eos key generate NAME`' },
    );
  }
  if (mode & 0o077)
    throw new KeyError(`${file}: secret key is accessible by others (mode ${mode.toString(8)})`, {
      data: { name, file },
      hint: `chmod 600 ${file}`,
    });
  const k = parseSecretKeyText(bytes, file);
  if (k.name !== name)
    throw new KeyError(`${file}: names the key "${k.name}", but its file name says "${name}"`, {
      data: { file },
    });
  return k;
}

async function ensureKeysDir(config: string): Promise<string> {
  const dir = keysDirOf(config);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // A killed `key generate` leaves a temp copy of a secret seed: remove those of dead writers.
  removeDeadTemps(dir);
  return dir;
}

function duplicate(name: string, dir: string): KeyError {
  return new KeyError(`a key named "${name}" already exists in ${dir}`, {
    data: { name, dir },
    hint: 'choose another name (names are never overwritten)',
  });
}

/**
 * Generates a key pair `<name>`: writes `<name>.key` (mode 0600 from creation) and `<name>.pub`,
 * each atomically and never over an existing file.
 * @param seed the 32 secret bytes; default: node's CSPRNG
 * @throws KeyError E9 when the name is invalid or already used (by any key, own or imported)
 */
export async function generateKey(
  config: string,
  name: string,
  seed: Uint8Array = randomBytes(SEED_BYTES),
): Promise<KeyringEntry> {
  const dir = keysDirOf(config);
  checkKeyName(name, dir);
  await ensureKeysDir(config);
  if ((await exists(join(dir, `${name}.key`))) || (await exists(join(dir, `${name}.pub`))))
    throw duplicate(name, dir);
  const kp = keyPairFromSeed(seed);
  const secretFile = join(dir, `${name}.key`);
  try {
    await writeFileAtomic(secretFile, encodeSecretKeyText(name, kp.seed), { mode: 0o600, overwrite: false });
  } catch (e) {
    if (isOsError(e, 'EEXIST')) throw duplicate(name, dir);
    throw e;
  }
  try {
    await writeFileAtomic(join(dir, `${name}.pub`), encodePublicKeyText(name, kp.publicKey), {
      mode: 0o644,
      overwrite: false,
    });
  } catch (e) {
    // Someone else took the name meanwhile: take back the secret key file we just placed.
    await unlink(secretFile).catch(() => undefined);
    if (isOsError(e, 'EEXIST')) throw duplicate(name, dir);
    throw e;
  }
  return { name, id: kp.id, publicKey: kp.publicKey, hasSecret: true };
}

/**
 * The public key text of key `<name>` (what `eos key export` prints).
 * @throws KeyError E9 when there is no such key
 * @see specs/signatures.md §4.1
 */
export async function exportPublicKey(config: string, name: string): Promise<string> {
  const e = findKey(await readKeyring(config), checkKeyName(name, keysDirOf(config)));
  return encodePublicKeyText(e.name, e.publicKey);
}

/**
 * Imports a public key text into the keyring as `<name>.pub`.
 * @param text the exported text
 * @param source names where it came from (file, `stdin`) in errors
 * @param name the local name; default: the name in the text
 * @throws KeyError E9 when the text is malformed, the name is invalid or taken, or the same key
 *   is already known under another name
 */
export async function importPublicKey(
  config: string,
  text: Uint8Array | string,
  source: string,
  name?: string,
): Promise<KeyringEntry> {
  const k = parsePublicKeyText(text, source);
  const dir = keysDirOf(config);
  const local = checkKeyName(name ?? k.name, dir);
  const ring = await readKeyring(config);
  const known = ring.byId.get(k.id);
  if (known)
    throw new KeyError(`key ${k.id} from ${source} is already in ${dir} as "${known.name}"`, {
      data: { key: k.id, name: known.name, dir },
    });
  if (ring.byName.has(local) || (await exists(join(dir, `${local}.key`)))) throw duplicate(local, dir);
  await ensureKeysDir(config);
  try {
    await writeFileAtomic(join(dir, `${local}.pub`), encodePublicKeyText(local, k.publicKey), {
      mode: 0o644,
      overwrite: false,
    });
  } catch (e) {
    if (isOsError(e, 'EEXIST')) throw duplicate(local, dir);
    throw e;
  }
  return { name: local, id: k.id, publicKey: k.publicKey, hasSecret: false };
}

/**
 * Reads `<config>/trust.toml`; a missing file is a policy that trusts nothing.
 * @throws ConfigError E11 located by file and field when it is malformed
 */
export async function readTrustPolicy(config: string): Promise<TrustPolicy> {
  const file = trustPolicyPathOf(config);
  let text: string;
  try {
    text = (await readFileBounded(file, { what: 'trust policy' })).toString('utf8');
  } catch (e) {
    if (e instanceof NotFoundError) return emptyTrustPolicy();
    throw e;
  }
  return parseTrustPolicy(text, file);
}

/**
 * Writes `<config>/trust.toml` atomically (mode 0644), with the keyring's names as comments.
 */
export async function writeTrustPolicy(
  config: string,
  policy: TrustPolicy,
  keyring?: Keyring,
): Promise<void> {
  await mkdir(config, { recursive: true, mode: 0o700 });
  const names = new Map<KeyId, string>();
  for (const [id, e] of keyring?.byId ?? []) names.set(id, e.name);
  await writeFileAtomic(trustPolicyPathOf(config), encodeTrustPolicy(policy, names), {
    mode: 0o644,
    overwrite: true,
  });
}

/**
 * Signs a digest for a purpose with the secret key `<name>`.
 * @throws KeyError E9 when there is no such secret key or it is unreadable or unsafe
 */
export async function signWithKey(
  config: string,
  name: string,
  signed: Digest,
  purpose: Purpose,
): Promise<Signature> {
  const k = await readSecretKey(config, name);
  return signDigest(signed, purpose, k.seed);
}

/** What verification needs from a configuration directory: its keyring and its trust policy. */
export interface TrustContext {
  keyring: Keyring;
  policy: TrustPolicy;
}

/**
 * Reads the keyring and the trust policy of a configuration directory, once, for verifying many
 * signatures with the pure `verifySignature`/`verifySignatures`.
 * @throws KeyError E9 on a malformed key file; ConfigError E11 on a malformed `trust.toml`
 */
export async function readTrustContext(config: string): Promise<TrustContext> {
  const [keyring, policy] = await Promise.all([readKeyring(config), readTrustPolicy(config)]);
  return { keyring, policy };
}

/**
 * Verifies a signature object (e.g. one carried inside a record) against the configuration's
 * keyring and trust policy.
 * @throws SignatureError E10 with `data.reason`; KeyError E9, ConfigError E11 as `readTrustContext`
 * @see specs/signatures.md §6
 */
export async function verifySignatureWithConfig(
  config: string,
  sig: unknown,
  expected: Digest,
  purpose: Purpose,
  what = 'signature',
): Promise<VerifiedSignature> {
  const { keyring, policy } = await readTrustContext(config);
  return verifySignature(sig, expected, purpose, keyring, policy, what);
}

/**
 * Verifies a signature file's bytes against the configuration's keyring and trust policy.
 * @param what names the signature (its file) in messages
 * @throws SignatureError E10 with `data.reason` (a malformed file is reason `malformed`)
 * @throws ConfigError E11 when `trust.toml` is malformed; KeyError E9 when a key file is
 */
export async function verifySignatureBytes(
  config: string,
  bytes: Uint8Array,
  what: string,
  expected: Digest,
  purpose: Purpose,
): Promise<VerifiedSignature> {
  let sig: Signature;
  try {
    sig = parseSignature(bytes, what);
  } catch (e) {
    if (!(e instanceof EncodingError)) throw e;
    throw new SignatureError(`${e.detail} (malformed signature)`, { data: { reason: 'malformed', what } });
  }
  return verifySignatureWithConfig(config, sig, expected, purpose, what);
}
