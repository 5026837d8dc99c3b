// The test vectors of specs/signatures.md §8, read from the page itself, reproduced with the
// Eos code and cross-checked against node's built-in Ed25519.
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as noble from '@noble/ed25519';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  digestBytes,
  encodePublicKeyText,
  encodeSignature,
  keyPairFromSeed,
  parsePublicKeyText,
  parseSignature,
  signDigest,
  signatureMessage,
  signMessage,
  verifyMessage,
} from '../../src/kernel/index.ts';

const root = join(import.meta.dirname, '..', '..');
const spec = readFileSync(join(root, 'specs', 'signatures.md'), 'utf8');
const section8 = spec.slice(spec.indexOf('## 8. Test vectors'));

function vector(label: string): string {
  const m = section8.match(new RegExp(`^${label.replace(/[()]/g, '\\$&')}:\\s+(\\S+)$`, 'm'));
  if (!m) throw new Error(`vector "${label}" not found in specs/signatures.md §8`);
  return m[1]!;
}
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fromHex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

/** A node KeyObject for a raw Ed25519 seed (PKCS#8 DER: fixed 16-byte prefix, then the seed). */
function nodeKey(seed: Uint8Array) {
  return createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
    format: 'der',
    type: 'pkcs8',
  });
}

describe('specs/signatures.md §8 vectors', () => {
  const seed = fromHex(vector('seed'));
  const kp = keyPairFromSeed(seed);
  const digest = vector('signed digest');

  it('seed → public key → key id (RFC 8032 TEST 1 public key)', () => {
    expect(hex(kp.publicKey)).toBe(vector('public key'));
    expect(kp.id).toBe(vector('key id'));
    expect(kp.id).toBe(digestBytes(kp.publicKey));
    expect(digest).toBe(digestBytes('abc'));
    // node derives the same public key from the seed
    const jwk = createPublicKey(nodeKey(seed)).export({ format: 'jwk' });
    expect(Buffer.from(jwk.x!, 'base64url').toString('hex')).toBe(vector('public key'));
  });

  it('reproduces RFC 8032 TEST 1 (empty message)', () => {
    expect(hex(signMessage(new Uint8Array(), seed))).toBe(vector('rfc8032 empty sig'));
  });

  it('message bytes, signature, signature object and key text', () => {
    expect(vector('purpose')).toBe('builds');
    const msg = signatureMessage(digest as never, 'builds');
    expect(hex(msg)).toBe(vector('message hex'));
    expect(new TextDecoder().decode(msg)).toBe(`eos-signature-v1\nbuilds\n${digest}\n`);
    const sig = signDigest(digest as never, 'builds', seed);
    expect(sig.signature).toBe(vector('signature'));
    expect(signDigest(digest as never, 'deploy', seed).signature).toBe(vector('signature (deploy)'));
    const objectText = section8.match(/^(\{"key".*\})$/m)![1]!;
    expect(new TextDecoder().decode(encodeSignature(sig))).toBe(objectText);
    expect(parseSignature(new TextEncoder().encode(objectText + '\n'))).toEqual(sig);
    const keyText = section8.match(/^(eos-public-key-v1 .*)$/m)![1]!;
    expect(encodePublicKeyText('alice', kp.publicKey)).toBe(keyText + '\n');
    expect(parsePublicKeyText(keyText, 'spec').id).toBe(kp.id);
  });

  it('signatures are byte-identical to node crypto.sign(null, msg, ed25519 key), and verify both ways', () => {
    const key = nodeKey(seed);
    for (let i = 0; i < 8; i++) {
      const d = digestBytes(`message ${i}`);
      for (const p of ['atoms', 'builds', 'compositions', 'deploy'] as const) {
        const msg = signatureMessage(d, p);
        const ours = fromHex(signDigest(d, p, seed).signature);
        const theirs = nodeSign(null, msg, key);
        expect(hex(ours)).toBe(theirs.toString('hex'));
        expect(nodeVerify(null, msg, createPublicKey(key), ours)).toBe(true);
        expect(verifyMessage(theirs, msg, kp.publicKey)).toBe(true);
      }
    }
  });

  it('keys and signatures (made with node) are byte-identical to @noble/ed25519 (the verifier)', () => {
    // noble's sync API needs SHA-512; importing the kernel's ed25519 module set it.
    for (let i = 0; i < 16; i++) {
      const s = new Uint8Array(randomBytes(32));
      const pair = keyPairFromSeed(s);
      expect(hex(pair.publicKey)).toBe(hex(noble.getPublicKey(s)));
      const msg = new Uint8Array(randomBytes(i * 37));
      const sig = signMessage(msg, s);
      expect(hex(sig)).toBe(hex(noble.sign(msg, s)));
      expect(noble.verify(sig, msg, pair.publicKey, { zip215: false })).toBe(true);
    }
  });
});
