/**
 * The JavaScript BLAKE3 of one-chunk inputs (src/kernel/blake3-chunk.ts) against the native
 * binding (streamed through createDigester, which never takes the JavaScript path) at every
 * length it takes, and against published digests; digestBytes switches between the two at the
 * chunk boundary without a seam.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BLAKE3_CHUNK_LEN, blake3ChunkHex } from '../../src/kernel/blake3-chunk.ts';
import { createDigester, digestBytes, JS_HASH_AFTER } from '../../src/kernel/index.ts';

const native = (b: Uint8Array): string => createDigester().update(b).digest().slice('blake3:'.length);
/** The official test vectors' input: byte i is i mod 251. */
const pattern = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i % 251);

describe('BLAKE3 of one chunk in JavaScript', () => {
  it('equals the native binding at every length from 0 to 1,024 (pattern and random bytes)', () => {
    for (let n = 0; n <= BLAKE3_CHUNK_LEN; n++) {
      const p = pattern(n);
      expect(blake3ChunkHex(p), `pattern, ${n} bytes`).toBe(native(p));
      const r = randomBytes(n);
      expect(blake3ChunkHex(r), `random, ${n} bytes`).toBe(native(r));
    }
  });

  it('gives the published digests', () => {
    expect(blake3ChunkHex(new Uint8Array(0))).toBe(
      'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262',
    );
    expect(blake3ChunkHex(Buffer.from('abc'))).toBe(
      '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85',
    );
  });

  it('hashes a subarray by its own bytes, not its buffer', () => {
    const big = pattern(300);
    expect(blake3ChunkHex(big.subarray(17, 250))).toBe(native(big.slice(17, 250)));
  });

  it('refuses more than one chunk', () => {
    expect(() => blake3ChunkHex(new Uint8Array(BLAKE3_CHUNK_LEN + 1))).toThrow(RangeError);
  });

  it('digestBytes agrees with the binding on both sides of the chunk boundary, bytes and strings', () => {
    // Past the switch, so that one-chunk inputs take the JavaScript hasher (src/kernel/digest.ts).
    const warm = new Uint8Array(8);
    for (let i = 0; i <= JS_HASH_AFTER; i++) digestBytes(warm);
    for (const n of [0, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 5000]) {
      const p = pattern(n);
      expect(digestBytes(p), `${n} bytes`).toBe('blake3:' + native(p));
    }
    for (const s of ['', 'é', 'x'.repeat(1024), 'é'.repeat(600), 'y'.repeat(1025)])
      expect(digestBytes(s)).toBe('blake3:' + native(Buffer.from(s, 'utf8')));
  });
});
