/**
 * Test helper: writes a minimal dynamic ELF file byte by byte (32- or 64-bit, little- or
 * big-endian), with a dynamic section, dynamic symbols, GNU version tables, a SysV hash table and
 * optionally a PT_INTERP, so tests and spec vectors do not depend on a compiler's output.
 *
 * Layout: ELF header, program headers (PT_LOAD over the whole file at vaddr 0x10000 + offset,
 * PT_INTERP, PT_DYNAMIC), then .interp, .dynstr, .dynsym, .gnu.version, .gnu.version_d,
 * .gnu.version_r, .hash, .dynamic, .shstrtab (each 8-byte aligned), then the section header table (unless
 * `sections: false`). Deterministic: the same options always give the same bytes.
 */
export interface BuildSymbol {
  name: string;
  /** STB_* */
  bind: number;
  /** STT_* */
  type: number;
  /** STV_* */
  vis?: number;
  /** st_shndx (0 undefined, 0xfff1 ABS, else a section index) */
  shndx: number;
  /** the raw .gnu.version entry (hidden bit included) */
  versym: number;
}
export interface BuildOptions {
  bits: 32 | 64;
  endian: 'little' | 'big';
  /** e_type (default 3, ET_DYN) */
  type?: number;
  /** e_machine (default 62 for 64-bit, 3 for 32-bit) */
  machine?: number;
  interp?: string;
  soname?: string;
  needed?: string[];
  rpath?: string;
  runpath?: string;
  flags?: number;
  flags1?: number;
  /** symbols after the null symbol 0 */
  symbols: BuildSymbol[];
  verdefs?: { index: number; flags: number; names: string[] }[];
  verneeds?: { file: string; versions: { name: string; index: number; flags: number }[] }[];
  /** write the section header table (default true) */
  sections?: boolean;
}

const BASE_VADDR = 0x10000;

/** Builds the file. */
export function buildElf(o: BuildOptions): Uint8Array {
  const is64 = o.bits === 64;
  const le = o.endian === 'little';
  const W = is64 ? 8 : 4;
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const shentsize = is64 ? 64 : 40;
  const symsize = is64 ? 24 : 16;
  const dynsize = is64 ? 16 : 8;

  // String table
  const strs: number[] = [0];
  const strIndex = new Map<string, number>();
  const str = (s: string): number => {
    const hit = strIndex.get(s);
    if (hit !== undefined) return hit;
    const at = strs.length;
    strs.push(...new TextEncoder().encode(s), 0);
    strIndex.set(s, at);
    return at;
  };
  const needed = o.needed ?? [];
  const neededIdx = needed.map(str);
  const sonameIdx = o.soname === undefined ? undefined : str(o.soname);
  const rpathIdx = o.rpath === undefined ? undefined : str(o.rpath);
  const runpathIdx = o.runpath === undefined ? undefined : str(o.runpath);
  const symNameIdx = o.symbols.map((s) => str(s.name));
  const verdefs = o.verdefs ?? [];
  const verneeds = o.verneeds ?? [];
  const verdefNames = verdefs.map((d) => d.names.map(str));
  const verneedFiles = verneeds.map((n) => str(n.file));
  const verneedNames = verneeds.map((n) => n.versions.map((v) => str(v.name)));

  const nsyms = o.symbols.length + 1;
  const phnum = 1 + (o.interp !== undefined ? 1 : 0) + 1;
  const align = (n: number) => (n + 7) & ~7;
  let off = ehsize + phnum * phentsize;
  const place = (size: number) => {
    off = align(off);
    const at = off;
    off += size;
    return at;
  };
  const interpBytes = o.interp === undefined ? undefined : [...new TextEncoder().encode(o.interp), 0];
  const interpOff = interpBytes ? place(interpBytes.length) : 0;
  const strOff = place(strs.length);
  const symOff = place(nsyms * symsize);
  const versymOff = place(nsyms * 2);
  const verdefSize = verdefs.reduce((a, d) => a + 20 + 8 * d.names.length, 0);
  const verdefOff = place(verdefSize);
  const verneedSize = verneeds.reduce((a, n) => a + 16 + 16 * n.versions.length, 0);
  const verneedOff = place(verneedSize);
  const hashOff = place(4 * (2 + 1 + nsyms));
  const dynEntries: [number, number][] = [];
  for (const i of neededIdx) dynEntries.push([1, i]);
  if (sonameIdx !== undefined) dynEntries.push([14, sonameIdx]);
  if (rpathIdx !== undefined) dynEntries.push([15, rpathIdx]);
  if (runpathIdx !== undefined) dynEntries.push([29, runpathIdx]);
  if (o.flags !== undefined) dynEntries.push([30, o.flags]);
  if (o.flags1 !== undefined) dynEntries.push([0x6ffffffb, o.flags1]);
  dynEntries.push([4, BASE_VADDR + hashOff]);
  dynEntries.push([5, BASE_VADDR + strOff]);
  dynEntries.push([10, strs.length]);
  dynEntries.push([6, BASE_VADDR + symOff]);
  dynEntries.push([11, symsize]);
  dynEntries.push([0x6ffffff0, BASE_VADDR + versymOff]);
  if (verdefs.length) {
    dynEntries.push([0x6ffffffc, BASE_VADDR + verdefOff]);
    dynEntries.push([0x6ffffffd, verdefs.length]);
  }
  if (verneeds.length) {
    dynEntries.push([0x6ffffffe, BASE_VADDR + verneedOff]);
    dynEntries.push([0x6fffffff, verneeds.length]);
  }
  dynEntries.push([0, 0]);
  const dynOff = place(dynEntries.length * dynsize);
  const withSections = o.sections !== false;
  const shNames = [
    '',
    '.interp',
    '.dynstr',
    '.dynsym',
    '.gnu.version',
    '.gnu.version_d',
    '.gnu.version_r',
    '.hash',
    '.dynamic',
    '.shstrtab',
  ];
  const shstr: number[] = [];
  const shName = shNames.map((n) => {
    const at = shstr.length;
    shstr.push(...new TextEncoder().encode(n), 0);
    return at;
  });
  const shstrOff = withSections ? place(shstr.length) : 0;
  const shnum = withSections ? shNames.length : 0;
  const shOff = withSections ? place(shnum * shentsize) : 0;
  const total = off;

  const buf = new Uint8Array(total);
  const v = new DataView(buf.buffer);
  const u8 = (at: number, x: number) => v.setUint8(at, x);
  const u16 = (at: number, x: number) => v.setUint16(at, x, le);
  const u32 = (at: number, x: number) => v.setUint32(at, x, le);
  const word = (at: number, x: number) => {
    if (!is64) return u32(at, x);
    const lo = x >>> 0;
    const hi = Math.floor(x / 0x100000000);
    u32(le ? at : at + 4, lo);
    u32(le ? at + 4 : at, hi);
  };

  // ELF header
  buf.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, le ? 1 : 2, 1, 0], 0);
  u16(16, o.type ?? 3);
  u16(18, o.machine ?? (is64 ? 62 : 3));
  u32(20, 1);
  word(24, 0); // e_entry
  word(is64 ? 32 : 28, ehsize); // e_phoff
  word(is64 ? 40 : 32, shOff); // e_shoff
  u32(is64 ? 48 : 36, 0); // e_flags
  u16(is64 ? 52 : 40, ehsize);
  u16(is64 ? 54 : 42, phentsize);
  u16(is64 ? 56 : 44, phnum);
  u16(is64 ? 58 : 46, withSections ? shentsize : 0);
  u16(is64 ? 60 : 48, shnum);
  u16(is64 ? 62 : 50, withSections ? shNames.length - 1 : 0); // e_shstrndx

  // Program headers
  let ph = ehsize;
  const phdr = (type: number, offset: number, size: number, flags: number) => {
    u32(ph, type);
    if (is64) {
      u32(ph + 4, flags);
      word(ph + 8, offset);
      word(ph + 16, BASE_VADDR + offset);
      word(ph + 24, BASE_VADDR + offset);
      word(ph + 32, size);
      word(ph + 40, size);
      word(ph + 48, 8);
    } else {
      u32(ph + 4, offset);
      u32(ph + 8, BASE_VADDR + offset);
      u32(ph + 12, BASE_VADDR + offset);
      u32(ph + 16, size);
      u32(ph + 20, size);
      u32(ph + 24, flags);
      u32(ph + 28, 8);
    }
    ph += phentsize;
  };
  phdr(1, 0, total, 5);
  if (interpBytes) phdr(3, interpOff, interpBytes.length, 4);
  phdr(2, dynOff, dynEntries.length * dynsize, 6);

  if (interpBytes) buf.set(interpBytes, interpOff);
  buf.set(strs, strOff);

  // Symbols (entry 0 stays zero)
  o.symbols.forEach((s, i) => {
    const at = symOff + (i + 1) * symsize;
    u32(at, symNameIdx[i]!);
    const info = ((s.bind & 0xf) << 4) | (s.type & 0xf);
    if (is64) {
      u8(at + 4, info);
      u8(at + 5, s.vis ?? 0);
      u16(at + 6, s.shndx);
      word(at + 8, s.shndx === 0 ? 0 : 0x1000 + i * 16);
      word(at + 16, 16);
    } else {
      u32(at + 4, s.shndx === 0 ? 0 : 0x1000 + i * 16);
      u32(at + 8, 16);
      u8(at + 12, info);
      u8(at + 13, s.vis ?? 0);
      u16(at + 14, s.shndx);
    }
    u16(versymOff + (i + 1) * 2, s.versym);
  });

  // Version definitions
  let at = verdefOff;
  verdefs.forEach((d, i) => {
    const size = 20 + 8 * d.names.length;
    u16(at, 1);
    u16(at + 2, d.flags);
    u16(at + 4, d.index);
    u16(at + 6, d.names.length);
    u32(at + 8, 0);
    u32(at + 12, 20);
    u32(at + 16, i === verdefs.length - 1 ? 0 : size);
    d.names.forEach((_, j) => {
      const a = at + 20 + 8 * j;
      u32(a, verdefNames[i]![j]!);
      u32(a + 4, j === d.names.length - 1 ? 0 : 8);
    });
    at += size;
  });
  // Version needs
  at = verneedOff;
  verneeds.forEach((n, i) => {
    const size = 16 + 16 * n.versions.length;
    u16(at, 1);
    u16(at + 2, n.versions.length);
    u32(at + 4, verneedFiles[i]!);
    u32(at + 8, 16);
    u32(at + 12, i === verneeds.length - 1 ? 0 : size);
    n.versions.forEach((x, j) => {
      const a = at + 16 + 16 * j;
      u32(a, 0);
      u16(a + 4, x.flags);
      u16(a + 6, x.index);
      u32(a + 8, verneedNames[i]![j]!);
      u32(a + 12, j === n.versions.length - 1 ? 0 : 16);
    });
    at += size;
  });
  // SysV hash: one bucket, chains all zero except the count.
  u32(hashOff, 1);
  u32(hashOff + 4, nsyms);
  // Dynamic
  dynEntries.forEach(([tag, val], i) => {
    word(dynOff + i * dynsize, tag);
    word(dynOff + i * dynsize + W, val);
  });

  if (withSections) {
    // 0 null, 1 .interp, 2 .dynstr, 3 .dynsym, 4 .gnu.version, 5 .gnu.version_d, 6 .gnu.version_r, 7 .hash, 8 .dynamic, 9 .shstrtab
    const sh = (
      i: number,
      type: number,
      offset: number,
      size: number,
      link: number,
      info: number,
      ent: number,
    ) => {
      const a = shOff + i * shentsize;
      u32(a, shName[i]!);
      u32(a + 4, type);
      if (is64) {
        word(a + 16, BASE_VADDR + offset);
        word(a + 24, offset);
        word(a + 32, size);
        u32(a + 40, link);
        u32(a + 44, info);
        word(a + 48, 8);
        word(a + 56, ent);
      } else {
        u32(a + 12, BASE_VADDR + offset);
        u32(a + 16, offset);
        u32(a + 20, size);
        u32(a + 24, link);
        u32(a + 28, info);
        u32(a + 32, 8);
        u32(a + 36, ent);
      }
    };
    sh(1, 1, interpOff, interpBytes?.length ?? 0, 0, 0, 0);
    sh(2, 3, strOff, strs.length, 0, 0, 0);
    sh(3, 11, symOff, nsyms * symsize, 2, 1, symsize);
    sh(4, 0x6fffffff, versymOff, nsyms * 2, 3, 0, 2);
    sh(5, 0x6ffffffd, verdefOff, verdefSize, 2, verdefs.length, 0);
    sh(6, 0x6ffffffe, verneedOff, verneedSize, 2, verneeds.length, 0);
    sh(7, 5, hashOff, 4 * (2 + 1 + nsyms), 3, 0, 4);
    sh(8, 6, dynOff, dynEntries.length * dynsize, 2, 0, dynsize);
    buf.set(shstr, shstrOff);
    sh(9, 3, shstrOff, shstr.length, 0, 0, 0);
  }
  return buf;
}

/** The library of the spec vector (specs/interface.md §7): libdemo.so.1 with two versions. */
export function demoLibrary(bits: 32 | 64, endian: 'little' | 'big', sections = true): Uint8Array {
  return buildElf({
    bits,
    endian,
    sections,
    soname: 'libdemo.so.1',
    needed: ['libc.so.6'],
    runpath: '$ORIGIN/../lib',
    flags: 0x8,
    flags1: 0x1,
    symbols: [
      { name: 'demo_new', bind: 1, type: 2, shndx: 7, versym: 3 },
      { name: 'demo_old', bind: 1, type: 2, shndx: 7, versym: 0x8002 },
      { name: 'demo_data', bind: 2, type: 1, vis: 3, shndx: 7, versym: 2 },
      { name: 'demo_hidden', bind: 1, type: 2, vis: 2, shndx: 7, versym: 1 },
      { name: 'printf', bind: 1, type: 2, shndx: 0, versym: 4 },
      { name: '__gmon_start__', bind: 2, type: 0, shndx: 0, versym: 0 },
      { name: 'plain_undef', bind: 1, type: 2, shndx: 0, versym: 1 },
    ],
    verdefs: [
      { index: 1, flags: 1, names: ['libdemo.so.1'] },
      { index: 2, flags: 0, names: ['DEMO_1.0'] },
      { index: 3, flags: 0, names: ['DEMO_2.0', 'DEMO_1.0'] },
    ],
    verneeds: [{ file: 'libc.so.6', versions: [{ name: 'GLIBC_2.2.5', index: 4, flags: 0 }] }],
  });
}

/** The executable of the spec vector: needs libdemo.so.1 and libc.so.6, interpreter set. */
export function demoProgram(bits: 32 | 64, endian: 'little' | 'big'): Uint8Array {
  return buildElf({
    bits,
    endian,
    interp: bits === 64 ? '/lib64/ld-linux-x86-64.so.2' : '/lib/ld-linux.so.2',
    needed: ['libdemo.so.1', 'libc.so.6'],
    flags1: 0x8000001,
    symbols: [
      { name: 'demo_new', bind: 1, type: 2, shndx: 0, versym: 2 },
      { name: 'demo_old', bind: 1, type: 2, shndx: 0, versym: 3 },
      { name: 'puts', bind: 1, type: 2, shndx: 0, versym: 4 },
      { name: '__cxa_finalize', bind: 2, type: 2, shndx: 0, versym: 4 },
      { name: 'main', bind: 1, type: 2, shndx: 7, versym: 1 },
    ],
    verneeds: [
      {
        file: 'libdemo.so.1',
        versions: [
          { name: 'DEMO_2.0', index: 2, flags: 0 },
          { name: 'DEMO_1.0', index: 3, flags: 0 },
        ],
      },
      { file: 'libc.so.6', versions: [{ name: 'GLIBC_2.2.5', index: 4, flags: 0 }] },
    ],
  });
}

/** Version 2 of the spec vector's library: `demo_old@DEMO_1.0` is gone, everything else is kept. */
export function demoLibraryWithoutOld(bits: 32 | 64, endian: 'little' | 'big'): Uint8Array {
  return buildElf({
    bits,
    endian,
    soname: 'libdemo.so.1',
    needed: ['libc.so.6'],
    runpath: '$ORIGIN/../lib',
    flags: 0x8,
    flags1: 0x1,
    symbols: [
      { name: 'demo_new', bind: 1, type: 2, shndx: 7, versym: 3 },
      { name: 'demo_data', bind: 2, type: 1, vis: 3, shndx: 7, versym: 2 },
      { name: 'demo_hidden', bind: 1, type: 2, vis: 2, shndx: 7, versym: 1 },
      { name: 'printf', bind: 1, type: 2, shndx: 0, versym: 4 },
      { name: '__gmon_start__', bind: 2, type: 0, shndx: 0, versym: 0 },
      { name: 'plain_undef', bind: 1, type: 2, shndx: 0, versym: 1 },
    ],
    verdefs: [
      { index: 1, flags: 1, names: ['libdemo.so.1'] },
      { index: 2, flags: 0, names: ['DEMO_1.0'] },
      { index: 3, flags: 0, names: ['DEMO_2.0', 'DEMO_1.0'] },
    ],
    verneeds: [{ file: 'libc.so.6', versions: [{ name: 'GLIBC_2.2.5', index: 4, flags: 0 }] }],
  });
}
