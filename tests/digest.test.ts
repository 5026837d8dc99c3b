import { describe, expect, it } from 'vitest';
import {
  createDigester,
  digestBytes,
  digestCanonical,
  digestFrom,
  digestHex,
  digestRaw,
  encodeCanonical,
  isDigest,
  parseCanonical,
  parseDigest,
  DigestError,
  EncodingError,
} from '../src/kernel/index.ts';

// BLAKE3 test vectors: the empty input and "abc" (from the BLAKE3 reference implementation).
const EMPTY = 'blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262';
const ABC = 'blake3:6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85';

describe('digest', () => {
  it('hashes with BLAKE3 and prints blake3:<hex>', () => {
    expect(digestBytes(new Uint8Array())).toBe(EMPTY);
    expect(digestBytes('abc')).toBe(ABC);
    const d = createDigester();
    d.update(new TextEncoder().encode('a')).update(new TextEncoder().encode('bc'));
    expect(d.digest()).toBe(ABC);
  });

  it('parses only the canonical form', () => {
    expect(parseDigest(ABC)).toBe(ABC);
    for (const bad of [
      ABC.toUpperCase(),
      'BLAKE3:' + ABC.slice(7),
      ABC.slice(0, -1),
      ABC + '0',
      'sha256:' + ABC.slice(7),
      ABC.slice(7),
      ' ' + ABC,
      ABC.replace('6437', '643G'),
      '',
    ])
      expect(() => parseDigest(bad, 'test'), bad).toThrow(DigestError);
    expect(() => parseDigest(42)).toThrow(/E2/);
    expect(isDigest(ABC)).toBe(true);
    expect(isDigest('x')).toBe(false);
  });

  it('converts between raw bytes, hex and digests', () => {
    const d = parseDigest(ABC);
    expect(digestHex(d)).toHaveLength(64);
    expect(digestRaw(d)).toHaveLength(32);
    expect(digestFrom(digestRaw(d))).toBe(ABC);
    expect(digestFrom(digestHex(d))).toBe(ABC);
  });
});

describe('canonical encoding (RFC 8785)', () => {
  it('sorts keys and is independent of construction order', () => {
    const a = encodeCanonical({ b: 1, a: [true, null, 'x'], c: { z: 1, y: 'é' } });
    const b = encodeCanonical({ c: { y: 'é', z: 1 }, a: [true, null, 'x'], b: 1 });
    expect(Buffer.from(a).toString()).toBe('{"a":[true,null,"x"],"b":1,"c":{"y":"é","z":1}}');
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
    expect(digestCanonical({ a: 1 })).toBe(digestBytes('{"a":1}'));
  });

  it('rejects non-JSON and unsafe numbers', () => {
    expect(() => encodeCanonical({ a: 1.5 })).toThrow(EncodingError);
    expect(() => encodeCanonical({ a: 2 ** 60 })).toThrow(EncodingError);
    expect(() => encodeCanonical({ a: undefined })).toThrow(EncodingError);
    expect(() => encodeCanonical(new Map())).toThrow(EncodingError);
  });

  it('decodes only canonical bytes', () => {
    expect(parseCanonical(new TextEncoder().encode('{"a":1,"b":[2]}'))).toEqual({ a: 1, b: [2] });
    expect(() => parseCanonical(new TextEncoder().encode('{"b":1,"a":2}'))).toThrow(/canonical/);
    expect(() => parseCanonical(new TextEncoder().encode('{"a": 1}'))).toThrow(/canonical/);
    expect(() => parseCanonical(Uint8Array.from([0xff, 0xfe]))).toThrow(/UTF-8/);
  });
});
