/**
 * The keyring, pure: the public keys this machine knows (its own keys and imported ones), by
 * key id and by name. The I/O layer builds it from `keys/*.pub` (`readKeyring`).
 *
 * @see specs/signatures.md §4.3
 */
import { isDigest } from '../digest.ts';
import { KeyError } from '../errors.ts';
import type { KeyId } from './ed25519.ts';

/** One known public key. */
export interface KeyringEntry {
  /** The local name (file name stem under `keys/`). */
  name: string;
  /** `digestBytes(publicKey)`. */
  id: KeyId;
  /** The raw 32-byte public key. */
  publicKey: Uint8Array;
  /** True when the secret key is on this machine (`keys/<name>.key`), false for imported keys. */
  hasSecret: boolean;
}

/** Known public keys, by id and by name. */
export interface Keyring {
  /** Where the keys came from (the keys directory), named in errors. */
  source: string;
  byId: ReadonlyMap<KeyId, KeyringEntry>;
  byName: ReadonlyMap<string, KeyringEntry>;
}

/**
 * Builds a keyring from entries.
 * @param source where they came from, for messages
 * @throws KeyError E9 when two entries share a name, or one key id appears under two names
 */
export function makeKeyring(entries: Iterable<KeyringEntry>, source: string): Keyring {
  const byId = new Map<KeyId, KeyringEntry>();
  const byName = new Map<string, KeyringEntry>();
  for (const e of entries) {
    if (byName.has(e.name))
      throw new KeyError(`key "${e.name}" appears twice in ${source}`, {
        data: { name: e.name, dir: source },
      });
    const other = byId.get(e.id);
    if (other)
      throw new KeyError(`key ${e.id} appears twice in ${source}, as "${other.name}" and "${e.name}"`, {
        data: { key: e.id, dir: source },
      });
    byId.set(e.id, e);
    byName.set(e.name, e);
  }
  return { source, byId, byName };
}

/**
 * Finds a key by key id or by name.
 * @throws KeyError E9 naming the key and the keyring's directory when there is none
 */
export function findKey(keyring: Keyring, idOrName: string): KeyringEntry {
  const e = isDigest(idOrName) ? keyring.byId.get(idOrName) : keyring.byName.get(idOrName);
  if (e) return e;
  throw new KeyError(`no key ${isDigest(idOrName) ? idOrName : `named "${idOrName}"`} in ${keyring.source}`, {
    data: { key: idOrName, dir: keyring.source },
    hint: 'see `eos key list`; import a public key with `eos key import FILE`',
  });
}
