// The pure core: signature objects, key texts, the keyring and verification with each rejection
// reason. Real keys (deterministic seeds), no files.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkKeyName,
  checkPublicKey,
  isKeyName,
  digestBytes,
  emptyTrustPolicy,
  encodeSignature,
  EncodingError,
  findKey,
  KeyError,
  keyPairFromSeed,
  makeKeyring,
  parsePublicKeyText,
  parseSecretKeyText,
  encodeSecretKeyText,
  parseSignature,
  REJECTION_REASONS,
  SignatureError,
  signDigest,
  trustKey,
  validateSignature,
  verifySignature,
  verifySignatures,
  type Keyring,
  type Signature,
  type TrustPolicy,
} from '../../src/kernel/index.ts';

const seedA = new Uint8Array(32).fill(1);
const seedB = new Uint8Array(32).fill(2);
const alice = keyPairFromSeed(seedA);
const bob = keyPairFromSeed(seedB);
const D = digestBytes('object');
const OTHER = digestBytes('another object');

const ring: Keyring = makeKeyring(
  [
    { name: 'alice', id: alice.id, publicKey: alice.publicKey, hasSecret: true },
    { name: 'bob', id: bob.id, publicKey: bob.publicKey, hasSecret: false },
  ],
  '/cfg/keys',
);
const policy: TrustPolicy = trustKey(trustKey(emptyTrustPolicy(), alice.id, ['builds']), bob.id, ['deploy']);

function rejection(f: () => unknown): SignatureError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SignatureError);
    return e as SignatureError;
  }
  throw new Error('expected a SignatureError');
}

describe('verifySignature', () => {
  it('accepts a signature by a key trusted for the purpose', () => {
    const sig = signDigest(D, 'builds', seedA);
    expect(verifySignature(sig, D, 'builds', ring, policy)).toMatchObject({
      signed: D,
      purpose: 'builds',
      key: alice.id,
      keyName: 'alice',
    });
  });

  it('each rejection reason is distinct, with its own message', () => {
    const good = signDigest(D, 'builds', seedA);
    const cases: [string, () => unknown, RegExp][] = [
      ['malformed', () => verifySignature({ ...good, version: 2 }, D, 'builds', ring, policy), /version 2/],
      ['wrong-digest', () => verifySignature(good, OTHER, 'builds', ring, policy), /not the expected/],
      [
        'wrong-purpose',
        () => verifySignature(good, D, 'deploy', ring, policy),
        /made for "builds", not "deploy"/,
      ],
      [
        'unknown-key',
        () => verifySignature(signDigest(D, 'builds', new Uint8Array(32).fill(9)), D, 'builds', ring, policy),
        /not in the keyring \/cfg\/keys/,
      ],
      [
        'bad-signature',
        () => {
          const b = Buffer.from(good.signature, 'hex');
          b[10]! ^= 0x01; // one flipped bit
          return verifySignature({ ...good, signature: b.toString('hex') }, D, 'builds', ring, policy);
        },
        /does not verify/,
      ],
      [
        'untrusted',
        () => verifySignature(signDigest(D, 'builds', seedB), D, 'builds', ring, policy),
        /not trusted for "builds" \(trusted for: deploy\)/,
      ],
    ];
    const messages = new Set<string>();
    for (const [reason, f, re] of cases) {
      const e = rejection(f);
      expect(e.code).toBe('E10');
      expect(e.data.reason, e.message).toBe(reason);
      expect(e.message).toMatch(re);
      messages.add(e.message.replace(/blake3:[0-9a-f]{64}/g, 'D'));
    }
    expect(messages.size).toBe(cases.length);
    expect(cases.map((c) => c[0])).toEqual(REJECTION_REASONS);
  });

  it('a signature over the same digest for another purpose does not verify when relabelled', () => {
    const sig = signDigest(D, 'compositions', seedA);
    const relabelled: Signature = { ...sig, purpose: 'builds' };
    expect(rejection(() => verifySignature(relabelled, D, 'builds', ring, policy)).data.reason).toBe(
      'bad-signature',
    );
  });

  it('rejects a non-canonical S (S + L) as a bad signature', () => {
    const sig = signDigest(D, 'builds', seedA);
    const b = Buffer.from(sig.signature, 'hex');
    const L = (1n << 252n) + 27742317777372353535851937790883648493n;
    let s = 0n;
    for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(b[i]!);
    s += L;
    for (let i = 32; i < 64; i++) {
      b[i] = Number(s & 0xffn);
      s >>= 8n;
    }
    expect(s).toBe(0n); // still fits in 32 bytes
    const e = rejection(() =>
      verifySignature({ ...sig, signature: b.toString('hex') }, D, 'builds', ring, policy),
    );
    expect(e.data.reason).toBe('bad-signature');
  });

  it('several signatures over one digest are verified independently', () => {
    const sigs = [signDigest(D, 'deploy', seedA), signDigest(D, 'deploy', seedB), { nonsense: true }];
    const r = verifySignatures(sigs, D, 'deploy', ring, policy);
    expect(r.accepted.map((a) => a.keyName)).toEqual(['bob']);
    expect(r.rejected.map((x) => x.error.data.reason)).toEqual(['untrusted', 'malformed']);
  });
});

describe('signature objects', () => {
  const sig = signDigest(D, 'atoms', seedA);
  const bytes = encodeSignature(sig);

  it('round-trips through the canonical form, with or without a final newline', () => {
    expect(parseSignature(bytes)).toEqual(sig);
    expect(parseSignature(Buffer.concat([bytes, Buffer.from('\n')]))).toEqual(sig);
  });

  it('rejects non-canonical, unknown, missing and bad fields with E3 naming the field', () => {
    const text = new TextDecoder().decode(bytes);
    const bad: [string, RegExp][] = [
      [text + '\n\n', /canonical/],
      [JSON.stringify(sig, null, 1), /canonical/],
      [text.replace('{', '{"extra":1,'), /unknown field "extra"/],
      [text.replace(/"purpose":"atoms",/, ''), /missing field "purpose"/],
      [text.replace('"atoms"', '"root"'), /purpose "root"/],
      [text.replace(/"signature":"[0-9a-f]{2}/, '"signature":"AB'), /128 lowercase hex/],
      [text.replace('"signed":"blake3:', '"signed":"sha256:'), /signed: .* is not a digest/],
      ['[]', /JSON object/],
      ['', /not UTF-8 JSON/],
    ];
    for (const [t, re] of bad) {
      let err: unknown;
      try {
        parseSignature(new TextEncoder().encode(t), 'sig.json');
      } catch (e) {
        err = e;
      }
      expect(err, t).toBeInstanceOf(EncodingError);
      expect((err as Error).message).toMatch(/^\[E3\] sig\.json: /);
      expect((err as Error).message).toMatch(re);
    }
  });

  it('random bytes never crash the parsers (only their own error codes)', () => {
    for (let i = 0; i < 300; i++) {
      const b = randomBytes(i % 7 === 0 ? 240 : i % 50);
      expect(() => parseSignature(b)).toThrow(EncodingError);
      expect(() => parsePublicKeyText(b, 'x')).toThrow(KeyError);
      expect(() => parseSecretKeyText(b, 'x')).toThrow(KeyError);
      expect(() => validateSignature(JSON.parse(JSON.stringify({ v: b.toString('hex') })))).toThrow(
        EncodingError,
      );
    }
  });
});

describe('keys', () => {
  it('refuses seeds of the wrong length and small-order or invalid public keys', () => {
    expect(() => keyPairFromSeed(new Uint8Array(31))).toThrow(/\[E9\] ed25519 seed: expected 32 bytes/);
    const identity = new Uint8Array(32);
    identity[0] = 1; // the neutral point: small order
    expect(() => checkPublicKey(identity, 'k.pub')).toThrow(/\[E9\] k\.pub: .*small-order/);
    const text = `eos-public-key-v1 ed25519 ${Buffer.from(identity).toString('hex')} evil\n`;
    expect(() => parsePublicKeyText(text, 'evil.pub')).toThrow(KeyError);
    expect(() => checkPublicKey(new Uint8Array(32).fill(0xff), 'k.pub')).toThrow(KeyError);
  });

  it('secret key text round-trips and never echoes the secret in errors', () => {
    const t = encodeSecretKeyText('alice', seedA);
    expect(parseSecretKeyText(t, 'a.key').id).toBe(alice.id);
    const broken = t.replace('ed25519', 'ed448');
    try {
      parseSecretKeyText(broken, 'a.key');
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).not.toContain(Buffer.from(seedA).toString('hex'));
      expect((e as Error).message).toMatch(/^\[E9\] a\.key: not a secret key file/);
    }
  });

  it('key names are safe file names that never look like key ids', () => {
    for (const good of ['alice', 'ci-2026', 'A_b.c', '0', '_x', 'x'.repeat(64)])
      expect(isKeyName(good), good).toBe(true);
    for (const bad of [
      '',
      '.',
      '..',
      '.hidden',
      '-x',
      'a/b',
      '../x',
      'a b',
      'a\0b',
      'blake3:ab',
      'x'.repeat(65),
      'é',
    ])
      expect(() => checkKeyName(bad, '/k'), bad).toThrow(/\[E9\] key name .* is not allowed in \/k/);
  });

  it('the keyring finds keys by id and name, and refuses duplicates', () => {
    expect(findKey(ring, 'bob').id).toBe(bob.id);
    expect(findKey(ring, alice.id).name).toBe('alice');
    expect(() => findKey(ring, 'carol')).toThrow(/\[E9\] no key named "carol" in \/cfg\/keys/);
    const e = { name: 'alice', id: alice.id, publicKey: alice.publicKey, hasSecret: true };
    expect(() => makeKeyring([e, { ...e, name: 'alice2' }], '/k')).toThrow(/appears twice/);
    expect(() => makeKeyring([e, { ...e, id: bob.id }], '/k')).toThrow(/"alice" appears twice/);
  });
});
