// Key files and the trust policy on disk, in process: real files in temporary config directories.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  digestBytes,
  generateKey,
  importPublicKey,
  KeyError,
  readKeyring,
  readTrustPolicy,
  signWithKey,
  trustKey,
  verifySignatureBytes,
  encodeSignature,
  writeTrustPolicy,
  emptyTrustPolicy,
} from '../../src/kernel/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'eos-keys-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const RFC_SEED = Uint8Array.from(
  Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex'),
);

describe('key store', () => {
  it('writes the documented file forms (specs/signatures.md §4, §8)', async () => {
    const cfg = join(tmp, 'forms');
    const e = await generateKey(cfg, 'alice', RFC_SEED);
    expect(e.id).toBe('blake3:6c31041268f471609c79f5f2dbcc38e4a4ab2f4d416109a4e09fcf50fd0f0062');
    expect(readFileSync(join(cfg, 'keys', 'alice.pub'), 'utf8')).toBe(
      'eos-public-key-v1 ed25519 d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a alice\n',
    );
    expect(readFileSync(join(cfg, 'keys', 'alice.key'), 'utf8')).toBe(
      `eos-secret-key-v1 ed25519 ${Buffer.from(RFC_SEED).toString('hex')} alice\n`,
    );
    expect(statSync(join(cfg, 'keys', 'alice.key')).mode & 0o777).toBe(0o600);
  });

  it('concurrent generates of one name: exactly one wins, the others get E9, no temporaries remain', async () => {
    const cfg = join(tmp, 'race');
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => generateKey(cfg, 'ci')));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected') expect(String(r.reason)).toMatch(/\[E9\] a key named "ci" already exists/);
    expect(readdirSync(join(cfg, 'keys')).sort()).toEqual(['ci.key', 'ci.pub']);
    const ring = await readKeyring(cfg);
    expect(ring.byName.get('ci')!.id).toBe((won[0] as PromiseFulfilledResult<{ id: string }>).value.id);
  });

  it('a .pub that does not match its .key, or names another key, is refused', async () => {
    const cfg = join(tmp, 'mismatch');
    await generateKey(cfg, 'a');
    await generateKey(cfg, 'b');
    const keys = join(cfg, 'keys');
    writeFileSync(join(keys, 'a.pub'), readFileSync(join(keys, 'b.pub'), 'utf8').replace(/ b\n$/, ' a\n'));
    await expect(readKeyring(cfg)).rejects.toThrow(/\[E9\] .*a\.pub: does not match the secret key a\.key/);
    writeFileSync(join(keys, 'a.pub'), readFileSync(join(keys, 'b.pub')));
    await expect(readKeyring(cfg)).rejects.toThrow(/names the key "b", but its file name says "a"/);
  });

  it('a .key without its .pub (crash between the two writes) still gives its public key', async () => {
    const cfg = join(tmp, 'half');
    const e = await generateKey(cfg, 'k');
    rmSync(join(cfg, 'keys', 'k.pub'));
    const ring = await readKeyring(cfg);
    expect(ring.byName.get('k')).toMatchObject({ id: e.id, hasSecret: true });
  });

  it('sign → file bytes → verify against the config; trust.toml written atomically', async () => {
    const cfg = join(tmp, 'flow');
    const other = join(tmp, 'flow-other');
    const e = await generateKey(cfg, 'me');
    await importPublicKey(other, readFileSync(join(cfg, 'keys', 'me.pub')), 'me.pub', 'friend');
    await expect(importPublicKey(other, readFileSync(join(cfg, 'keys', 'me.pub')), 'me.pub')).rejects.toThrow(
      KeyError,
    );
    await writeTrustPolicy(other, trustKey(emptyTrustPolicy(), e.id, ['atoms']), await readKeyring(other));
    expect(readdirSync(other).sort()).toEqual(['keys', 'trust.toml']);
    expect(readFileSync(join(other, 'trust.toml'), 'utf8')).toContain(`"${e.id}", # friend`);
    expect((await readTrustPolicy(other)).purposes.atoms).toEqual([e.id]);
    const d = digestBytes('atom record');
    const bytes = encodeSignature(await signWithKey(cfg, 'me', d, 'atoms'));
    const v = await verifySignatureBytes(other, bytes, 'sig', d, 'atoms');
    expect(v).toMatchObject({ key: e.id, keyName: 'friend', purpose: 'atoms' });
    await expect(verifySignatureBytes(other, bytes.subarray(1), 'sig', d, 'atoms')).rejects.toMatchObject({
      code: 'E10',
      data: { reason: 'malformed' },
    });
  });
});
