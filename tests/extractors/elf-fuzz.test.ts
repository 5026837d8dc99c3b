/**
 * Fuzzing the ELF decoder and the manifest step with mutated real files: truncations, random bytes
 * in the ELF header and in the tables the decoder reads, huge counts and offsets past the end. Every
 * case must end in a manifest contribution or an ElfFormatError (E15), within a time bound; any
 * other exception is a bug. The PRNG is seeded, so a failing case reproduces from its number.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ElfFormatError, encodeCanonical } from '../../src/kernel/index.ts';
import { parseElf, interfaceOfElf } from '../../extractors/index.ts';
import { demoLibrary, demoProgram } from './elf-builder.ts';

const CASES = 12_000;
const SEED = 0x5eed_e105;
/** Per-case bound: a hang or a quadratic blow-up shows as a case far above this. */
const MAX_CASE_MS = 1000;

/** mulberry32: a small seeded PRNG (uniform in [0, 1)). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Seed {
  name: string;
  bytes: Uint8Array;
  is64: boolean;
  le: boolean;
  /** [offset, size] of the ELF header, program header table, section header table and every section with bytes. */
  regions: [number, number][];
  /** Offsets of count/offset/size fields worth setting to huge values. */
  fields: { at: number; size: 2 | 4 | 8 }[];
}

function describeSeed(name: string, original: Uint8Array): Seed {
  // A plain Uint8Array copy: Buffer#slice would share memory with the seed.
  const bytes = new Uint8Array(original);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const is64 = bytes[4] === 2;
  const le = bytes[5] === 1;
  const u16 = (o: number) => v.getUint16(o, le);
  const u32 = (o: number) => v.getUint32(o, le);
  const word = (o: number) => (is64 ? Number(v.getBigUint64(o, le)) : u32(o));
  const ehsize = is64 ? 64 : 52;
  const phoff = word(is64 ? 0x20 : 0x1c);
  const shoff = word(is64 ? 0x28 : 0x20);
  const phentsize = u16(is64 ? 0x36 : 0x2a);
  const phnum = u16(is64 ? 0x38 : 0x2c);
  const shentsize = u16(is64 ? 0x3a : 0x2e);
  const shnum = u16(is64 ? 0x3c : 0x30);
  const regions: [number, number][] = [[0, ehsize]];
  const fields: Seed['fields'] = [
    { at: is64 ? 0x20 : 0x1c, size: is64 ? 8 : 4 },
    { at: is64 ? 0x28 : 0x20, size: is64 ? 8 : 4 },
    { at: is64 ? 0x38 : 0x2c, size: 2 },
    { at: is64 ? 0x3c : 0x30, size: 2 },
    { at: is64 ? 0x3a : 0x2e, size: 2 },
  ];
  const W = is64 ? 8 : 4;
  if (phnum) {
    regions.push([phoff, phnum * phentsize]);
    for (let i = 0; i < phnum; i++) {
      const o = phoff + i * phentsize;
      if (is64) fields.push({ at: o + 8, size: 8 }, { at: o + 0x10, size: 8 }, { at: o + 0x20, size: 8 });
      else fields.push({ at: o + 4, size: 4 }, { at: o + 8, size: 4 }, { at: o + 0x10, size: 4 });
    }
  }
  if (shnum && shoff) {
    regions.push([shoff, shnum * shentsize]);
    for (let i = 0; i < shnum; i++) {
      const o = shoff + i * shentsize;
      const type = u32(o + 4);
      const off = word(o + (is64 ? 0x18 : 0x10));
      const size = word(o + (is64 ? 0x20 : 0x14));
      fields.push(
        { at: o + (is64 ? 0x18 : 0x10), size: W as 4 | 8 },
        { at: o + (is64 ? 0x20 : 0x14), size: W as 4 | 8 },
        { at: o + (is64 ? 0x28 : 0x18), size: 4 },
        { at: o + (is64 ? 0x2c : 0x1c), size: 4 },
      );
      // dynamic, dynsym, dynstr and the GNU version sections: the tables the decoder reads
      if (type === 6 || type === 11 || type === 3 || type >= 0x6ffffffd) {
        if (type !== 8 && size > 0 && off + size <= bytes.length)
          regions.push([off, Math.min(size, 1 << 20)]);
        if (type === 0x6ffffffd || type === 0x6ffffffe)
          for (let k = 0; k + 16 <= size && k < 256; k += 4)
            fields.push({ at: off + k, size: 4 }, { at: off + k, size: 2 });
        if (type === 6)
          for (let k = 0; k + W <= Math.min(size, 512); k += W)
            fields.push({ at: off + k, size: W as 4 | 8 });
      }
    }
  }
  return { name, bytes, is64, le, regions, fields };
}

const HUGE = [0, 1, 2, 0x7f, 0xff, 0xffff, 0x7fffffff, 0xffffffff, 0x10000, 0x100000];

function mutate(seed: Seed, rnd: () => number): { bytes: Uint8Array; how: string } {
  const int = (n: number) => Math.floor(rnd() * n);
  const len = seed.bytes.length;
  const kind = int(6);
  if (kind === 0) {
    const cut = rnd() < 0.5 ? int(Math.min(len, 4096)) : int(len);
    return { bytes: seed.bytes.slice(0, cut), how: `truncate to ${cut}` };
  }
  const b = seed.bytes.slice();
  const v = new DataView(b.buffer);
  if (kind === 1 || kind === 2) {
    // random bytes in the header (kind 1) or in a table (kind 2)
    const [off, size] = kind === 1 ? seed.regions[0]! : seed.regions[int(seed.regions.length)]!;
    const n = 1 + int(8);
    for (let i = 0; i < n; i++) b[off + int(size)] = int(256);
    return { bytes: b, how: `${n} random bytes in region at ${off}` };
  }
  if (kind === 3 || kind === 4) {
    // a huge count, offset or size (kind 3), or an offset just past the end (kind 4)
    const f = seed.fields[int(seed.fields.length)]!;
    if (f.at + f.size > b.length) return { bytes: b, how: 'field past a truncation: unchanged' };
    const value = kind === 3 ? HUGE[int(HUGE.length)]! : len + int(64) - 8;
    if (f.size === 2) v.setUint16(f.at, value & 0xffff, seed.le);
    else if (f.size === 4) v.setUint32(f.at, value >>> 0, seed.le);
    else v.setBigUint64(f.at, kind === 3 && rnd() < 0.3 ? 0xffffffffffffffffn : BigInt(value), seed.le);
    return { bytes: b, how: `field at ${f.at} (${f.size} bytes) := ${value}` };
  }
  // several of the above at once
  let cur: { bytes: Uint8Array; how: string } = { bytes: b, how: 'combo' };
  const n = 2 + int(4);
  for (let i = 0; i < n; i++) {
    const next = mutate({ ...seed, bytes: cur.bytes }, rnd);
    if (next.bytes.length < cur.bytes.length && rnd() < 0.7) continue;
    cur = { bytes: next.bytes, how: `${cur.how}; ${next.how}` };
  }
  return cur;
}

function seeds(): Seed[] {
  const out: Seed[] = [
    describeSeed('demo 64 LE', demoLibrary(64, 'little')),
    describeSeed('demo 32 BE', demoLibrary(32, 'big')),
    describeSeed('demo 64 BE without sections', demoLibrary(64, 'big', false)),
    describeSeed('program 32 LE', demoProgram(32, 'little')),
  ];
  for (const f of [
    '/usr/bin/ls',
    '/usr/lib/x86_64-linux-gnu/libz.so.1',
    '/usr/bin/dash',
    '/usr/lib/x86_64-linux-gnu/libssl.so.3',
  ])
    if (existsSync(f)) out.push(describeSeed(f, readFileSync(f)));
  return out;
}

describe('ELF fuzz', () => {
  it(`${CASES} mutated files end in a manifest or E15, each within ${MAX_CASE_MS} ms`, () => {
    const rnd = prng(SEED);
    const all = seeds();
    expect(all.length).toBeGreaterThanOrEqual(6);
    let ok = 0;
    let e15 = 0;
    let maxMs = 0;
    let slowest = '';
    const failures: string[] = [];
    const kinds = new Map<string, number>();
    for (let i = 0; i < CASES; i++) {
      const seed = all[i % all.length]!;
      const { bytes, how } = mutate(seed, rnd);
      const t0 = performance.now();
      try {
        const e = parseElf(bytes, `case-${i}`);
        encodeCanonical(interfaceOfElf(`case-${i}`, e));
        ok++;
      } catch (err) {
        if (err instanceof ElfFormatError && err.message.startsWith(`[E15] case-${i}: `)) {
          e15++;
          const what = err.message.replace(/^\[E15\] case-\d+: /, '').replace(/\d+/g, 'N');
          kinds.set(what, (kinds.get(what) ?? 0) + 1);
        } else if (failures.length < 10)
          failures.push(`case ${i} (${seed.name}: ${how}): ${(err as Error)?.stack ?? String(err)}`);
      }
      const ms = performance.now() - t0;
      if (ms > maxMs) {
        maxMs = ms;
        slowest = `case ${i} (${seed.name}: ${how})`;
      }
    }
    const top = [...kinds.entries()].sort((a, b) => b[1] - a[1]);
    console.log(
      `fuzz: ${kinds.size} distinct E15 messages; most frequent:\n` +
        top
          .slice(0, 15)
          .map(([k, n]) => `  ${n}\t${k}`)
          .join('\n'),
    );
    console.log(
      `fuzz: ${CASES} cases: ${ok} manifests, ${e15} E15; slowest ${maxMs.toFixed(1)} ms: ${slowest}`,
    );
    expect(failures).toEqual([]);
    expect(ok + e15).toBe(CASES);
    expect(ok).toBeGreaterThan(CASES / 10);
    expect(e15).toBeGreaterThan(CASES / 10);
    expect(maxMs).toBeLessThan(MAX_CASE_MS);
  });
});
