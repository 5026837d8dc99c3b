/**
 * Key file formats, pure: key names, the public key text (the `.pub` file, and what
 * `eos key export` prints and `eos key import` reads) and the secret key text (the `.key` file).
 *
 * Both are one line of ASCII, fields separated by one space, ending in `\n`:
 * `eos-public-key-v1 ed25519 <64 hex public key> <name>` and
 * `eos-secret-key-v1 ed25519 <64 hex seed> <name>`.
 *
 * @see specs/signatures.md §4 (key files)
 */
import { KeyError } from '../errors.ts';
import { checkPublicKey, keyPairFromSeed, keyIdOf, type KeyId, type KeyPair } from './ed25519.ts';

/** First field of a public key text. */
export const PUBLIC_KEY_TAG = 'eos-public-key-v1';
/** First field of a secret key text. */
export const SECRET_KEY_TAG = 'eos-secret-key-v1';
/** The only algorithm of format version 1. */
export const KEY_ALGORITHM = 'ed25519';

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;
const HEX32_RE = /^[0-9a-f]{64}$/;

/** True when `s` is a valid key name: 1–64 of `A-Z a-z 0-9 . _ -`, not starting with `.` or `-`. */
export function isKeyName(s: unknown): s is string {
  return typeof s === 'string' && NAME_RE.test(s);
}

/**
 * Checks a key name (used as a file name under `keys/`, so no `/`, NUL, `.`, `..`, spaces or `:`).
 * @param where the keys directory, named in the error
 * @throws KeyError E9 for anything else
 */
export function checkKeyName(name: unknown, where: string): string {
  if (isKeyName(name)) return name;
  throw new KeyError(
    `key name ${JSON.stringify(name)} is not allowed in ${where} (use 1-64 of A-Z a-z 0-9 . _ -, not starting with . or -)`,
    { data: { name: typeof name === 'string' ? name : null, dir: where } },
  );
}

/** A public key as read from a `.pub` file or an exported text. */
export interface PublicKeyText {
  name: string;
  publicKey: Uint8Array;
  id: KeyId;
}

function fields(bytes: Uint8Array | string, what: string, tag: string): [string, string] {
  let text: string;
  try {
    text = typeof bytes === 'string' ? bytes : new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new KeyError(`${what}: not UTF-8 text`, { data: { what } });
  }
  const line = text.replace(/\r?\n$/, '');
  const parts = line.split(' ');
  if (line.includes('\n') || parts.length !== 4 || parts[0] !== tag || parts[1] !== KEY_ALGORITHM) {
    const shown = line.length > 60 ? line.slice(0, 60) + '…' : line;
    throw new KeyError(
      `${what}: expected one line "${tag} ${KEY_ALGORITHM} <64 hex> <name>", got ${JSON.stringify(shown)}`,
      { data: { what } },
    );
  }
  const hex = parts[2]!;
  if (!HEX32_RE.test(hex))
    throw new KeyError(`${what}: key must be 64 lowercase hex digits`, { data: { what } });
  return [hex, checkKeyName(parts[3], what)];
}

/**
 * Encodes a public key text: `eos-public-key-v1 ed25519 <hex> <name>\n`.
 * @throws KeyError E9 on a bad name or key length
 */
export function encodePublicKeyText(name: string, publicKey: Uint8Array): string {
  checkKeyName(name, 'public key');
  keyIdOf(publicKey);
  return `${PUBLIC_KEY_TAG} ${KEY_ALGORITHM} ${Buffer.from(publicKey).toString('hex')} ${name}\n`;
}

/**
 * Parses a public key text (one line, optional final newline).
 * @param what names the source (file, `stdin`) in errors
 * @throws KeyError E9 when malformed, or when the key is not a usable ed25519 point
 */
export function parsePublicKeyText(bytes: Uint8Array | string, what: string): PublicKeyText {
  const [hex, name] = fields(bytes, what, PUBLIC_KEY_TAG);
  const publicKey = Uint8Array.from(Buffer.from(hex, 'hex'));
  checkPublicKey(publicKey, what);
  return { name, publicKey, id: keyIdOf(publicKey) };
}

/**
 * Encodes a secret key text: `eos-secret-key-v1 ed25519 <hex seed> <name>\n`.
 * @throws KeyError E9 on a bad name or seed length
 */
export function encodeSecretKeyText(name: string, seed: Uint8Array): string {
  checkKeyName(name, 'secret key');
  keyPairFromSeed(seed);
  return `${SECRET_KEY_TAG} ${KEY_ALGORITHM} ${Buffer.from(seed).toString('hex')} ${name}\n`;
}

/**
 * Parses a secret key text into its name and key pair.
 * @throws KeyError E9 when malformed (the message never shows the secret)
 */
export function parseSecretKeyText(bytes: Uint8Array | string, what: string): { name: string } & KeyPair {
  let hex: string, name: string;
  try {
    [hex, name] = fields(bytes, what, SECRET_KEY_TAG);
  } catch (e) {
    // Never echo a secret key file's content.
    if (e instanceof KeyError)
      throw new KeyError(
        `${what}: not a secret key file (expected one line "${SECRET_KEY_TAG} ${KEY_ALGORITHM} <64 hex> <name>")`,
        { data: { what } },
      );
    throw e;
  }
  return { name, ...keyPairFromSeed(Uint8Array.from(Buffer.from(hex, 'hex'))) };
}
