/**
 * BLAKE3 of an input of at most one chunk (1,024 bytes), in plain JavaScript: the 32-byte hash
 * (`hash` mode, no key) as 64 lowercase hex digits. Small inputs are most of what the store
 * digests (tree objects, canonical records, action keys); through the native binding each costs a
 * wrapped hasher object and two calls (about 7 µs), here about 1 µs. Larger inputs go to the
 * binding (src/kernel/digest.ts), so the two always agree; tests/kernel/blake3-chunk.test.ts
 * checks every length from 0 to 1,024 against it and the published test vectors.
 *
 * A one-chunk input is one chunk whose blocks are compressed in order with counter 0: the first
 * with CHUNK_START, the last with CHUNK_END | ROOT, and the root output's first 8 words are the hash.
 *
 * @see https://github.com/BLAKE3-team/BLAKE3-specs/blob/master/blake3.pdf §2.1–2.6
 * @see specs/store.md §1 (digests)
 */

/** The largest input {@link blake3ChunkHex} takes, in bytes: one BLAKE3 chunk. */
export const BLAKE3_CHUNK_LEN = 1024;

const IV0 = 0x6a09e667;
const IV1 = 0xbb67ae85;
const IV2 = 0x3c6ef372;
const IV3 = 0xa54ff53a;
const IV4 = 0x510e527f;
const IV5 = 0x9b05688c;
const IV6 = 0x1f83d9ab;
const IV7 = 0x5be0cd19;
const CHUNK_START = 1;
const CHUNK_END = 2;
const ROOT = 8;

const cv = new Int32Array(8);
const m = new Int32Array(16);
const block = new Uint8Array(64);
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Compresses the block words `m` into the chaining value `cv` (chunk counter 0): the 7 rounds of
 * the G function on locals (what V8 keeps in registers), the message permuted between rounds.
 */
function compress(blockLen: number, flags: number): void {
  let s0 = cv[0]!,
    s1 = cv[1]!,
    s2 = cv[2]!,
    s3 = cv[3]!;
  let s4 = cv[4]!,
    s5 = cv[5]!,
    s6 = cv[6]!,
    s7 = cv[7]!;
  let s8 = IV0 | 0,
    s9 = IV1 | 0,
    s10 = IV2 | 0,
    s11 = IV3 | 0;
  let s12 = 0,
    s13 = 0,
    s14 = blockLen | 0,
    s15 = flags | 0;
  let m0 = m[0]!,
    m1 = m[1]!,
    m2 = m[2]!,
    m3 = m[3]!,
    m4 = m[4]!,
    m5 = m[5]!,
    m6 = m[6]!,
    m7 = m[7]!;
  let m8 = m[8]!,
    m9 = m[9]!,
    m10 = m[10]!,
    m11 = m[11]!,
    m12 = m[12]!,
    m13 = m[13]!,
    m14 = m[14]!,
    m15 = m[15]!;
  let t: number;
  for (let r = 0; r < 7; r++) {
    s0 = (s0 + s4 + m0) | 0;
    t = s12 ^ s0;
    s12 = (t >>> 16) | (t << 16);
    s8 = (s8 + s12) | 0;
    t = s4 ^ s8;
    s4 = (t >>> 12) | (t << 20);
    s0 = (s0 + s4 + m1) | 0;
    t = s12 ^ s0;
    s12 = (t >>> 8) | (t << 24);
    s8 = (s8 + s12) | 0;
    t = s4 ^ s8;
    s4 = (t >>> 7) | (t << 25);
    s1 = (s1 + s5 + m2) | 0;
    t = s13 ^ s1;
    s13 = (t >>> 16) | (t << 16);
    s9 = (s9 + s13) | 0;
    t = s5 ^ s9;
    s5 = (t >>> 12) | (t << 20);
    s1 = (s1 + s5 + m3) | 0;
    t = s13 ^ s1;
    s13 = (t >>> 8) | (t << 24);
    s9 = (s9 + s13) | 0;
    t = s5 ^ s9;
    s5 = (t >>> 7) | (t << 25);
    s2 = (s2 + s6 + m4) | 0;
    t = s14 ^ s2;
    s14 = (t >>> 16) | (t << 16);
    s10 = (s10 + s14) | 0;
    t = s6 ^ s10;
    s6 = (t >>> 12) | (t << 20);
    s2 = (s2 + s6 + m5) | 0;
    t = s14 ^ s2;
    s14 = (t >>> 8) | (t << 24);
    s10 = (s10 + s14) | 0;
    t = s6 ^ s10;
    s6 = (t >>> 7) | (t << 25);
    s3 = (s3 + s7 + m6) | 0;
    t = s15 ^ s3;
    s15 = (t >>> 16) | (t << 16);
    s11 = (s11 + s15) | 0;
    t = s7 ^ s11;
    s7 = (t >>> 12) | (t << 20);
    s3 = (s3 + s7 + m7) | 0;
    t = s15 ^ s3;
    s15 = (t >>> 8) | (t << 24);
    s11 = (s11 + s15) | 0;
    t = s7 ^ s11;
    s7 = (t >>> 7) | (t << 25);
    s0 = (s0 + s5 + m8) | 0;
    t = s15 ^ s0;
    s15 = (t >>> 16) | (t << 16);
    s10 = (s10 + s15) | 0;
    t = s5 ^ s10;
    s5 = (t >>> 12) | (t << 20);
    s0 = (s0 + s5 + m9) | 0;
    t = s15 ^ s0;
    s15 = (t >>> 8) | (t << 24);
    s10 = (s10 + s15) | 0;
    t = s5 ^ s10;
    s5 = (t >>> 7) | (t << 25);
    s1 = (s1 + s6 + m10) | 0;
    t = s12 ^ s1;
    s12 = (t >>> 16) | (t << 16);
    s11 = (s11 + s12) | 0;
    t = s6 ^ s11;
    s6 = (t >>> 12) | (t << 20);
    s1 = (s1 + s6 + m11) | 0;
    t = s12 ^ s1;
    s12 = (t >>> 8) | (t << 24);
    s11 = (s11 + s12) | 0;
    t = s6 ^ s11;
    s6 = (t >>> 7) | (t << 25);
    s2 = (s2 + s7 + m12) | 0;
    t = s13 ^ s2;
    s13 = (t >>> 16) | (t << 16);
    s8 = (s8 + s13) | 0;
    t = s7 ^ s8;
    s7 = (t >>> 12) | (t << 20);
    s2 = (s2 + s7 + m13) | 0;
    t = s13 ^ s2;
    s13 = (t >>> 8) | (t << 24);
    s8 = (s8 + s13) | 0;
    t = s7 ^ s8;
    s7 = (t >>> 7) | (t << 25);
    s3 = (s3 + s4 + m14) | 0;
    t = s14 ^ s3;
    s14 = (t >>> 16) | (t << 16);
    s9 = (s9 + s14) | 0;
    t = s4 ^ s9;
    s4 = (t >>> 12) | (t << 20);
    s3 = (s3 + s4 + m15) | 0;
    t = s14 ^ s3;
    s14 = (t >>> 8) | (t << 24);
    s9 = (s9 + s14) | 0;
    t = s4 ^ s9;
    s4 = (t >>> 7) | (t << 25);
    if (r === 6) break;
    const p0 = m2;
    const p1 = m6;
    const p2 = m3;
    const p3 = m10;
    const p4 = m7;
    const p5 = m0;
    const p6 = m4;
    const p7 = m13;
    const p8 = m1;
    const p9 = m11;
    const p10 = m12;
    const p11 = m5;
    const p12 = m9;
    const p13 = m14;
    const p14 = m15;
    const p15 = m8;
    m0 = p0;
    m1 = p1;
    m2 = p2;
    m3 = p3;
    m4 = p4;
    m5 = p5;
    m6 = p6;
    m7 = p7;
    m8 = p8;
    m9 = p9;
    m10 = p10;
    m11 = p11;
    m12 = p12;
    m13 = p13;
    m14 = p14;
    m15 = p15;
  }
  cv[0] = s0 ^ s8;
  cv[1] = s1 ^ s9;
  cv[2] = s2 ^ s10;
  cv[3] = s3 ^ s11;
  cv[4] = s4 ^ s12;
  cv[5] = s5 ^ s13;
  cv[6] = s6 ^ s14;
  cv[7] = s7 ^ s15;
}

/** Loads 64 bytes of `bytes` from `off` (zero-padded past `end`) into `m`, little-endian. */
function loadBlock(bytes: Uint8Array, off: number, end: number): void {
  let src: Uint8Array = bytes;
  let at = off;
  if (end - off < 64) {
    block.fill(0);
    block.set(bytes.subarray(off, end));
    src = block;
    at = 0;
  }
  for (let i = 0; i < 16; i++, at += 4)
    m[i] = src[at]! | (src[at + 1]! << 8) | (src[at + 2]! << 16) | (src[at + 3]! << 24);
}

/**
 * BLAKE3 (hash mode, 32-byte output) of `bytes` as 64 lowercase hex digits.
 * @param bytes the input, at most {@link BLAKE3_CHUNK_LEN} bytes
 * @throws RangeError for a longer input (the caller hashes it with the native binding)
 */
export function blake3ChunkHex(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n > BLAKE3_CHUNK_LEN) throw new RangeError(`blake3ChunkHex: ${n} bytes is more than one chunk`);
  cv[0] = IV0;
  cv[1] = IV1;
  cv[2] = IV2;
  cv[3] = IV3;
  cv[4] = IV4;
  cv[5] = IV5;
  cv[6] = IV6;
  cv[7] = IV7;
  const blocks = n === 0 ? 1 : Math.ceil(n / 64);
  for (let b = 0; b < blocks; b++) {
    const off = b * 64;
    const end = Math.min(n, off + 64);
    loadBlock(bytes, off, end);
    let flags = b === 0 ? CHUNK_START : 0;
    if (b === blocks - 1) flags |= CHUNK_END | ROOT;
    compress(end - off, flags);
  }
  let hex = '';
  for (let i = 0; i < 8; i++) {
    const w = cv[i]! >>> 0;
    hex += HEX[w & 0xff]! + HEX[(w >>> 8) & 0xff]! + HEX[(w >>> 16) & 0xff]! + HEX[w >>> 24]!;
  }
  return hex;
}
