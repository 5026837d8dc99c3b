/**
 * The ELF decoder: from a file's bytes to its dynamic-linking facts (needed sonames, soname,
 * rpath/runpath, flags, the interpreter, dynamic symbols with their GNU versions, version
 * definitions and version needs). Pure: bytes in, values out.
 *
 * Every offset and count read from the file is checked against the bytes that hold it before it is
 * used, so a malformed or truncated file ends in one `ElfFormatError` (E15) naming the file and the
 * field, never in an out-of-range read, an unbounded loop or an allocation sized by the attacker.
 *
 * @see specs/interface.md §2
 */
import { ElfFormatError } from '../../src/kernel/index.ts';
import * as F from './format.ts';

/** One dynamic symbol as decoded from `.dynsym` and `.gnu.version`. */
export interface ElfSymbol {
  /** Index in the dynamic symbol table. */
  readonly index: number;
  /** The symbol's name (UTF-8 decoded). */
  readonly name: string;
  /** STB_* value (0 LOCAL, 1 GLOBAL, 2 WEAK, 10 GNU_UNIQUE). */
  readonly binding: number;
  /** STT_* value (0 NOTYPE, 1 OBJECT, 2 FUNC, 3 SECTION, 4 FILE, 5 COMMON, 6 TLS, 10 GNU_IFUNC). */
  readonly type: number;
  /** STV_* value (st_other & 3: 0 DEFAULT, 1 INTERNAL, 2 HIDDEN, 3 PROTECTED). */
  readonly visibility: number;
  /** st_shndx: 0 = undefined, 0xfff1 = ABS, 0xfff2 = COMMON, else a section index. */
  readonly sectionIndex: number;
  /** st_size in bytes (for data objects, the size a copy relocation copies); values above 2^53 read as Infinity. */
  readonly size: number;
  /** `sectionIndex !== SHN_UNDEF`. */
  readonly defined: boolean;
  /** The `.gnu.version` entry without the hidden bit (0 local, 1 global, ≥ 2 a version index); null when the file has no `.gnu.version`. */
  readonly versionIndex: number | null;
  /** The hidden bit (0x8000) of the `.gnu.version` entry: the version is not the default one. */
  readonly hidden: boolean;
  /** The version name the index resolves to (from verdef, or verneed for undefined and copy-relocated symbols), else null. */
  readonly version: string | null;
  /** For a version found in verneed: the needed file (soname) that verneed entry names; else null. */
  readonly versionFile: string | null;
}

/** One version definition (`.gnu.version_d` entry). */
export interface ElfVersionDefinition {
  /** vd_ndx: the index symbols use in `.gnu.version`. */
  readonly index: number;
  /** vd_flags (VER_FLG_BASE 1, VER_FLG_WEAK 2). */
  readonly flags: number;
  /** The first verdaux name: the version's own name (for the BASE entry, the soname). */
  readonly name: string;
  /** The following verdaux names: the versions this one inherits from. */
  readonly parents: readonly string[];
}

/** One version a needed file must provide (a `.gnu.version_r` vernaux entry). */
export interface ElfVersionNeedEntry {
  /** vna_other: the index symbols use in `.gnu.version`. */
  readonly index: number;
  /** vna_flags (VER_FLG_WEAK 2). */
  readonly flags: number;
  readonly name: string;
}

/** One needed file with its required versions (a `.gnu.version_r` verneed entry). */
export interface ElfVersionNeed {
  /** vn_file: the soname of the needed file. */
  readonly file: string;
  readonly versions: readonly ElfVersionNeedEntry[];
}

/** The dynamic-linking facts of one ELF file. */
export interface ElfFile {
  /** The name the caller gave (used in errors). */
  readonly name: string;
  /** 32 or 64. */
  readonly bits: 32 | 64;
  readonly endian: 'little' | 'big';
  /** e_ident[EI_OSABI]: 0 System V, 3 GNU/Linux, 9 FreeBSD, … */
  readonly osabi: number;
  /** e_type: 1 REL, 2 EXEC, 3 DYN, 4 CORE. */
  readonly type: number;
  readonly machine: number;
  /** The PT_INTERP path, or null. */
  readonly interpreter: string | null;
  /** True when the file has a dynamic section (section or PT_DYNAMIC segment with bytes). */
  readonly dynamic: boolean;
  /**
   * True for a separate debug-information file (`objcopy --only-keep-debug`): it has a PT_DYNAMIC
   * program header but no dynamic bytes, so it provides and requires nothing.
   */
  readonly debugOnly: boolean;
  /** DT_NEEDED values in the order of the dynamic section. */
  readonly needed: readonly string[];
  readonly soname: string | null;
  readonly rpath: string | null;
  readonly runpath: string | null;
  /** DT_FLAGS (low 32 bits; no higher bit is defined), or null when absent. */
  readonly flags: number | null;
  /** DT_FLAGS_1 (low 32 bits), or null when absent. */
  readonly flags1: number | null;
  /** The dynamic symbol table, index 0 included. */
  readonly symbols: readonly ElfSymbol[];
  readonly versionDefinitions: readonly ElfVersionDefinition[];
  readonly versionNeeds: readonly ElfVersionNeed[];
}

/**
 * Whether a decoded ELF file takes part in dynamic linking: an executable or shared object
 * (`ET_EXEC`/`ET_DYN`) that is not a separate debug-information file (`debugOnly`, left by
 * `objcopy --only-keep-debug`: its headers survive, its bytes do not). Others contribute nothing
 * to an interface manifest or a closure.
 * @see specs/interface.md §2.3, §4
 */
export function isLinkable(e: ElfFile): boolean {
  return (e.type === F.ET_EXEC || e.type === F.ET_DYN) && !e.debugOnly;
}

/** True when the bytes start with the ELF magic. */
export function isElf(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 &&
    bytes[0] === F.ELF_MAGIC[0] &&
    bytes[1] === F.ELF_MAGIC[1] &&
    bytes[2] === F.ELF_MAGIC[2] &&
    bytes[3] === F.ELF_MAGIC[3]
  );
}

/** A byte range of the file: [offset, offset + size). */
interface Range {
  readonly offset: number;
  readonly size: number;
}

interface Section extends Range {
  readonly type: number;
  readonly link: number;
  readonly info: number;
  readonly entsize: number;
}

interface Segment extends Range {
  readonly type: number;
  readonly vaddr: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bounds-checked reads of one file's bytes in its byte order and class. */
class Reader {
  readonly view: DataView;
  readonly length: number;
  constructor(
    readonly bytes: Uint8Array,
    readonly name: string,
    readonly le: boolean,
    readonly is64: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.length = bytes.byteLength;
  }

  fail(what: string, data: Record<string, unknown> = {}): never {
    throw new ElfFormatError(`${this.name}: ${what}`, { data: { file: this.name, ...data } });
  }

  /** Checks that [offset, offset + size) lies inside the file. */
  check(offset: number, size: number, what: string): void {
    if (!(offset >= 0 && size >= 0 && offset + size <= this.length))
      this.fail(
        `${what} (offset ${offset}, ${size} bytes) lies past the end of the file (${this.length} bytes)`,
        {
          field: what,
        },
      );
  }

  u8(off: number): number {
    return this.view.getUint8(off);
  }
  u16(off: number): number {
    return this.view.getUint16(off, this.le);
  }
  u32(off: number): number {
    return this.view.getUint32(off, this.le);
  }
  /** A 64-bit unsigned value; values above 2^53 become Infinity (they are past any file). */
  u64(off: number): number {
    const lo = this.view.getUint32(this.le ? off : off + 4, this.le);
    const hi = this.view.getUint32(this.le ? off + 4 : off, this.le);
    return hi < 0x200000 ? hi * 0x100000000 + lo : Infinity;
  }
  /** An address-sized value (Elf32_Addr/Off/Word or Elf64_Addr/Off/Xword). */
  word(off: number): number {
    return this.is64 ? this.u64(off) : this.u32(off);
  }
}

/**
 * A NUL-terminated string table with a per-offset cache. The NUL positions are indexed once (one
 * pass over the table), so each lookup is a binary search, and the bytes decoded across distinct
 * offsets are bounded (8 × the table size + 64 KiB): overlapping references (suffix sharing) are
 * legal, but a crafted table cannot make the decoder quadratic in time or memory.
 */
class StringTable {
  private readonly cache = new Map<number, string>();
  private nuls: Int32Array | null = null;
  private budget: number;
  constructor(
    private readonly r: Reader,
    private readonly range: Range,
    private readonly what: string,
  ) {
    this.budget = 8 * range.size + 65536;
  }

  /** The offsets (relative to the table) of its NUL bytes, ascending. */
  private index(): Int32Array {
    if (this.nuls) return this.nuls;
    const { offset, size } = this.range;
    const b = this.r.bytes;
    let n = 0;
    for (let p = b.indexOf(0, offset); p >= 0 && p < offset + size; p = b.indexOf(0, p + 1)) n++;
    const nuls = new Int32Array(n);
    n = 0;
    for (let p = b.indexOf(0, offset); p >= 0 && p < offset + size; p = b.indexOf(0, p + 1))
      nuls[n++] = p - offset;
    return (this.nuls = nuls);
  }

  get(index: number, field: string): string {
    const hit = this.cache.get(index);
    if (hit !== undefined) return hit;
    if (!(index < this.range.size))
      this.r.fail(`${field}: string offset ${index} is outside ${this.what} (${this.range.size} bytes)`, {
        field,
      });
    const nuls = this.index();
    let lo = 0;
    let hi = nuls.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (nuls[mid]! < index) lo = mid + 1;
      else hi = mid;
    }
    if (lo === nuls.length)
      this.r.fail(`${field}: string at offset ${index} of ${this.what} is not NUL-terminated`, { field });
    const len = nuls[lo]! - index;
    this.budget -= len;
    if (this.budget < 0)
      this.r.fail(
        `${field}: references into ${this.what} overlap excessively (more than 8 times its size decoded)`,
        {
          field,
        },
      );
    const start = this.range.offset + index;
    let s: string;
    try {
      s = utf8.decode(this.r.bytes.subarray(start, start + len));
    } catch {
      this.r.fail(`${field}: string at offset ${index} of ${this.what} is not UTF-8`, { field });
    }
    this.cache.set(index, s);
    return s;
  }
}

function readSections(r: Reader): { sections: Section[]; phnumFromSection0: number | null } {
  const h = r.is64 ? F.HEADER64 : F.HEADER32;
  const L = r.is64 ? F.SHDR64 : F.SHDR32;
  const shoff = r.word(h.e_shoff);
  let shnum = r.u16(h.e_shnum);
  const shentsize = r.u16(h.e_shentsize);
  if (shoff === 0) return { sections: [], phnumFromSection0: null };
  if (shentsize < L.sizeBytes)
    r.fail(`e_shentsize is ${shentsize}, less than ${L.sizeBytes}`, { field: 'e_shentsize' });
  r.check(shoff, L.sizeBytes, 'section header 0');
  let phnumFromSection0: number | null = null;
  if (shnum === 0) {
    // Extended numbering: the real count is section 0's sh_size.
    shnum = r.word(shoff + L.sh_size);
  }
  if (r.u16(h.e_phnum) === F.PN_XNUM) phnumFromSection0 = r.u32(shoff + L.sh_info);
  if (!(shnum <= (r.length - shoff) / shentsize))
    r.fail(
      `section header table (${shnum} entries of ${shentsize} bytes at ${shoff}) lies past the end of the file`,
      {
        field: 'e_shnum',
      },
    );
  const sections: Section[] = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    sections.push({
      type: r.u32(o + L.sh_type),
      offset: r.word(o + L.sh_offset),
      size: r.word(o + L.sh_size),
      link: r.u32(o + L.sh_link),
      info: r.u32(o + L.sh_info),
      entsize: r.word(o + L.sh_entsize),
    });
  }
  return { sections, phnumFromSection0 };
}

function readSegments(r: Reader, phnumOverride: number | null): Segment[] {
  const h = r.is64 ? F.HEADER64 : F.HEADER32;
  const L = r.is64 ? F.PHDR64 : F.PHDR32;
  const phoff = r.word(h.e_phoff);
  let phnum = r.u16(h.e_phnum);
  if (phnum === F.PN_XNUM && phnumOverride !== null) phnum = phnumOverride;
  const phentsize = r.u16(h.e_phentsize);
  if (phoff === 0 || phnum === 0) return [];
  if (phentsize < L.sizeBytes)
    r.fail(`e_phentsize is ${phentsize}, less than ${L.sizeBytes}`, { field: 'e_phentsize' });
  if (!(phoff + phnum * phentsize <= r.length))
    r.fail(
      `program header table (${phnum} entries of ${phentsize} bytes at ${phoff}) lies past the end of the file`,
      {
        field: 'e_phnum',
      },
    );
  const out: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    out.push({
      type: r.u32(o + L.p_type),
      offset: r.word(o + L.p_offset),
      vaddr: r.word(o + L.p_vaddr),
      size: r.word(o + L.p_filesz),
    });
  }
  return out;
}

/** Maps a virtual address to a file offset through the PT_LOAD segments; null when unmapped. */
function vaddrToOffset(segments: Segment[], vaddr: number): number | null {
  for (const s of segments)
    if (s.type === F.PT_LOAD && vaddr >= s.vaddr && vaddr < s.vaddr + s.size)
      return s.offset + (vaddr - s.vaddr);
  return null;
}

/** Bytes of a section, checked to lie inside the file; SHT_NOBITS sections have none (null). */
function sectionRange(r: Reader, s: Section, what: string): Range | null {
  if (s.type === F.SHT_NOBITS) return null;
  r.check(s.offset, s.size, what);
  return { offset: s.offset, size: s.size };
}

interface DynamicEntries {
  needed: number[];
  soname: number | null;
  rpath: number | null;
  runpath: number | null;
  flags: number | null;
  flags1: number | null;
  /** d_tag → d_val for the address-valued tags used as a fallback without sections. */
  addr: Map<number, number>;
}

function readDynamic(r: Reader, range: Range): DynamicEntries {
  const entSize = r.is64 ? F.DYN64_SIZE : F.DYN32_SIZE;
  const half = entSize / 2;
  const n = Math.floor(range.size / entSize);
  const d: DynamicEntries = {
    needed: [],
    soname: null,
    rpath: null,
    runpath: null,
    flags: null,
    flags1: null,
    addr: new Map(),
  };
  for (let i = 0; i < n; i++) {
    const o = range.offset + i * entSize;
    // d_tag is signed; every tag we read fits in its low 32 bits with a zero high word.
    let tag: number;
    if (r.is64) {
      const hi = r.u32(r.le ? o + 4 : o);
      tag = hi === 0 ? r.u32(r.le ? o : o + 4) : -1;
    } else tag = r.u32(o);
    if (tag === F.DT_NULL) break;
    const valOff = o + half;
    switch (tag) {
      case F.DT_NEEDED:
        d.needed.push(r.word(valOff));
        break;
      case F.DT_SONAME:
        d.soname = r.word(valOff);
        break;
      case F.DT_RPATH:
        d.rpath = r.word(valOff);
        break;
      case F.DT_RUNPATH:
        d.runpath = r.word(valOff);
        break;
      case F.DT_FLAGS:
        d.flags = r.u32(r.is64 && !r.le ? valOff + 4 : valOff);
        break;
      case F.DT_FLAGS_1:
        d.flags1 = r.u32(r.is64 && !r.le ? valOff + 4 : valOff);
        break;
      case F.DT_STRTAB:
      case F.DT_STRSZ:
      case F.DT_SYMTAB:
      case F.DT_SYMENT:
      case F.DT_HASH:
      case F.DT_GNU_HASH:
      case F.DT_VERSYM:
      case F.DT_VERDEF:
      case F.DT_VERDEFNUM:
      case F.DT_VERNEED:
      case F.DT_VERNEEDNUM:
        d.addr.set(tag, r.word(valOff));
        break;
      default:
        break;
    }
  }
  return d;
}

/** The number of dynamic symbols from DT_HASH (nchain) or DT_GNU_HASH (walk to the last chain end). */
function symbolCountFromHash(r: Reader, segments: Segment[], d: DynamicEntries): number | null {
  const hash = d.addr.get(F.DT_HASH);
  if (hash !== undefined) {
    const o = vaddrToOffset(segments, hash);
    if (o === null) r.fail('DT_HASH address is not in any PT_LOAD segment', { field: 'DT_HASH' });
    r.check(o, 8, 'DT_HASH header');
    return r.u32(o + 4);
  }
  const gnu = d.addr.get(F.DT_GNU_HASH);
  if (gnu === undefined) return null;
  const o = vaddrToOffset(segments, gnu);
  if (o === null) r.fail('DT_GNU_HASH address is not in any PT_LOAD segment', { field: 'DT_GNU_HASH' });
  r.check(o, 16, 'DT_GNU_HASH header');
  const nbuckets = r.u32(o);
  const symoffset = r.u32(o + 4);
  const bloomSize = r.u32(o + 8);
  const buckets = o + 16 + bloomSize * (r.is64 ? 8 : 4);
  r.check(buckets, nbuckets * 4, 'DT_GNU_HASH buckets');
  let max = 0;
  for (let i = 0; i < nbuckets; i++) max = Math.max(max, r.u32(buckets + i * 4));
  if (max === 0) return symoffset;
  if (max < symoffset) r.fail('DT_GNU_HASH bucket points below symoffset', { field: 'DT_GNU_HASH' });
  const chains = buckets + nbuckets * 4;
  for (let i = max; ; i++) {
    const c = chains + (i - symoffset) * 4;
    r.check(c, 4, 'DT_GNU_HASH chain');
    if (r.u32(c) & 1) return i + 1;
  }
}

/**
 * Decodes the dynamic-linking facts of an ELF file.
 * @param bytes the whole file
 * @param name names the file in errors (a path relative to its tree, or a label)
 * @throws ElfFormatError E15 when the bytes are not ELF, or a header, table, count, offset or string is
 *   malformed or lies past the end of the file; the message names the file and the field
 * @see specs/interface.md §2
 */
export function parseElf(bytes: Uint8Array, name: string): ElfFile {
  if (!isElf(bytes))
    throw new ElfFormatError(`${name}: not an ELF file (bad magic)`, {
      data: { file: name, field: 'e_ident' },
    });
  if (bytes.length < 16)
    throw new ElfFormatError(`${name}: truncated ELF identification (${bytes.length} bytes)`, {
      data: { file: name, field: 'e_ident' },
    });
  const cls = bytes[F.EI_CLASS];
  const data = bytes[F.EI_DATA];
  if (cls !== F.ELFCLASS32 && cls !== F.ELFCLASS64)
    throw new ElfFormatError(`${name}: unknown ELF class ${cls}`, {
      data: { file: name, field: 'EI_CLASS' },
    });
  if (data !== F.ELFDATA2LSB && data !== F.ELFDATA2MSB)
    throw new ElfFormatError(`${name}: unknown ELF data encoding ${data}`, {
      data: { file: name, field: 'EI_DATA' },
    });
  const r: Reader = new Reader(bytes, name, data === F.ELFDATA2LSB, cls === F.ELFCLASS64);
  const h = r.is64 ? F.HEADER64 : F.HEADER32;
  r.check(0, h.sizeBytes, 'ELF header');
  if (bytes[F.EI_VERSION] !== F.EV_CURRENT)
    r.fail(`unknown ELF version ${bytes[F.EI_VERSION]}`, { field: 'EI_VERSION' });
  const type = r.u16(F.E_TYPE);
  const machine = r.u16(F.E_MACHINE);

  const { sections, phnumFromSection0 } = readSections(r);
  const segments = readSegments(r, phnumFromSection0);

  // PT_INTERP
  let interpreter: string | null = null;
  const interp = segments.find((s) => s.type === F.PT_INTERP);
  // A PT_INTERP without file bytes (separate debug-info files keep the header, not the bytes) names nothing.
  if (interp && interp.size > 0) {
    r.check(interp.offset, interp.size, 'PT_INTERP');
    interpreter = new StringTable(r, interp, 'PT_INTERP').get(0, 'PT_INTERP');
  }

  // The dynamic section: SHT_DYNAMIC section first, PT_DYNAMIC segment as the fallback.
  const dynSeg = segments.find((s) => s.type === F.PT_DYNAMIC);
  let dynRange: Range | null = null;
  let dynStr: Range | null = null;
  const dynSec = sections.find((s) => s.type === F.SHT_DYNAMIC);
  if (dynSec) {
    dynRange = sectionRange(r, dynSec, 'dynamic section');
    const link = sections[dynSec.link];
    if (dynRange && link && link.type === F.SHT_STRTAB)
      dynStr = sectionRange(r, link, 'dynamic string table');
  } else {
    const seg = dynSeg;
    if (seg && seg.size > 0) {
      r.check(seg.offset, seg.size, 'PT_DYNAMIC');
      dynRange = seg;
    }
  }
  const empty: ElfFile = {
    name,
    bits: r.is64 ? 64 : 32,
    endian: r.le ? 'little' : 'big',
    osabi: bytes[F.EI_OSABI]!,
    type,
    machine,
    interpreter,
    dynamic: false,
    debugOnly: dynSeg !== undefined && dynSeg.size === 0,
    needed: [],
    soname: null,
    rpath: null,
    runpath: null,
    flags: null,
    flags1: null,
    symbols: [],
    versionDefinitions: [],
    versionNeeds: [],
  };
  if (!dynRange) return empty;
  const dyn = readDynamic(r, dynRange);

  /** A table located through a dynamic tag (address) when there is no section for it. */
  const viaTag = (tag: number, size: number | undefined, what: string): Range | null => {
    const addr = dyn.addr.get(tag);
    if (addr === undefined) return null;
    const off = vaddrToOffset(segments, addr);
    if (off === null) r.fail(`${what} address ${addr} is not in any PT_LOAD segment`, { field: what });
    const sz = size ?? r.length - off;
    r.check(off, sz, what);
    return { offset: off, size: sz };
  };

  if (!dynStr) dynStr = viaTag(F.DT_STRTAB, dyn.addr.get(F.DT_STRSZ), 'DT_STRTAB');
  const needsStrings =
    dyn.needed.length > 0 || dyn.soname !== null || dyn.rpath !== null || dyn.runpath !== null;
  if (!dynStr && needsStrings)
    r.fail('dynamic section has names but no string table', { field: 'DT_STRTAB' });
  const dstr = dynStr ? new StringTable(r, dynStr, 'the dynamic string table') : null;
  const str = (i: number | null, field: string): string | null =>
    i === null || !dstr ? null : dstr.get(i, field);

  // Symbols: the SHT_DYNSYM section, or DT_SYMTAB sized by the hash table.
  const symL = r.is64 ? F.SYM64 : F.SYM32;
  let symRange: Range | null = null;
  let symStr: StringTable | null = dstr;
  const symSec = sections.find((s) => s.type === F.SHT_DYNSYM);
  if (symSec) {
    symRange = sectionRange(r, symSec, 'dynamic symbol table');
    if (symRange) {
      if (symSec.entsize !== 0 && symSec.entsize !== symL.sizeBytes)
        r.fail(`dynamic symbol table entry size is ${symSec.entsize}, not ${symL.sizeBytes}`, {
          field: 'sh_entsize',
        });
      if (symRange.size % symL.sizeBytes !== 0)
        r.fail(`dynamic symbol table size ${symRange.size} is not a multiple of ${symL.sizeBytes}`, {
          field: 'sh_size',
        });
      const link = sections[symSec.link];
      if (!link || link.type !== F.SHT_STRTAB)
        r.fail(`dynamic symbol table links to section ${symSec.link}, not a string table`, {
          field: 'sh_link',
        });
      const lr = sectionRange(r, link, 'dynamic symbol string table');
      if (!lr) r.fail('dynamic symbol string table has no bytes (SHT_NOBITS)', { field: 'sh_link' });
      symStr = new StringTable(r, lr, 'the dynamic symbol string table');
    }
  } else if (sections.length === 0 && dyn.addr.has(F.DT_SYMTAB)) {
    const count = symbolCountFromHash(r, segments, dyn);
    if (count !== null) symRange = viaTag(F.DT_SYMTAB, count * symL.sizeBytes, 'DT_SYMTAB');
  }
  const nsyms = symRange ? symRange.size / symL.sizeBytes : 0;
  if (nsyms > 0 && !symStr) r.fail('dynamic symbols have no string table', { field: 'DT_STRTAB' });

  // Version tables: sections when there are sections, else dynamic tags.
  const vsStr = symStr ?? dstr;
  let versym: Range | null = null;
  let verdef: Range | null = null;
  let verdefCount = 0;
  let verneed: Range | null = null;
  let verneedCount = 0;
  if (sections.length > 0) {
    for (const s of sections) {
      if (s.type === F.SHT_GNU_VERSYM && !versym) versym = sectionRange(r, s, '.gnu.version');
      else if (s.type === F.SHT_GNU_VERDEF && !verdef) {
        verdef = sectionRange(r, s, '.gnu.version_d');
        verdefCount = s.info;
      } else if (s.type === F.SHT_GNU_VERNEED && !verneed) {
        verneed = sectionRange(r, s, '.gnu.version_r');
        verneedCount = s.info;
      }
    }
  } else {
    if (nsyms > 0) versym = viaTag(F.DT_VERSYM, nsyms * 2, 'DT_VERSYM');
    verdef = viaTag(F.DT_VERDEF, undefined, 'DT_VERDEF');
    verdefCount = dyn.addr.get(F.DT_VERDEFNUM) ?? 0;
    verneed = viaTag(F.DT_VERNEED, undefined, 'DT_VERNEED');
    verneedCount = dyn.addr.get(F.DT_VERNEEDNUM) ?? 0;
  }
  if ((verdef || verneed) && !vsStr) r.fail('version sections have no string table', { field: 'DT_STRTAB' });

  const versionDefinitions: ElfVersionDefinition[] = [];
  if (verdef && vsStr) {
    const end = verdef.offset + verdef.size;
    let budget = Math.floor(verdef.size / F.VERDAUX_SIZE); // bounds the aux entries read in total
    let o = verdef.offset;
    if (verdefCount > verdef.size / F.VERDEF_SIZE)
      r.fail(`.gnu.version_d claims ${verdefCount} entries in ${verdef.size} bytes`, { field: 'vd_count' });
    for (let i = 0; i < verdefCount; i++) {
      if (!(o >= verdef.offset && o + F.VERDEF_SIZE <= end))
        r.fail(`.gnu.version_d entry ${i} lies outside the section`, { field: 'vd_next' });
      const cnt = r.u16(o + F.VD_CNT);
      const names: string[] = [];
      let a = o + r.u32(o + F.VD_AUX);
      for (let j = 0; j < cnt; j++) {
        if (--budget < 0)
          r.fail(`.gnu.version_d entry ${i} has more auxiliary entries than fit`, { field: 'vd_cnt' });
        if (!(a >= verdef.offset && a + F.VERDAUX_SIZE <= end))
          r.fail(`.gnu.version_d entry ${i} auxiliary ${j} lies outside the section`, { field: 'vda_next' });
        names.push(vsStr.get(r.u32(a), 'vda_name'));
        a += r.u32(a + 4);
      }
      if (names.length === 0) r.fail(`.gnu.version_d entry ${i} has no name`, { field: 'vd_cnt' });
      versionDefinitions.push({
        index: r.u16(o + F.VD_NDX),
        flags: r.u16(o + F.VD_FLAGS),
        name: names[0]!,
        parents: names.slice(1),
      });
      const next = r.u32(o + F.VD_NEXT);
      if (next === 0) break;
      o += next;
    }
  }

  const versionNeeds: ElfVersionNeed[] = [];
  if (verneed && vsStr) {
    const end = verneed.offset + verneed.size;
    let budget = Math.floor(verneed.size / F.VERNAUX_SIZE);
    let o = verneed.offset;
    if (verneedCount > verneed.size / F.VERNEED_SIZE)
      r.fail(`.gnu.version_r claims ${verneedCount} entries in ${verneed.size} bytes`, { field: 'vn_count' });
    for (let i = 0; i < verneedCount; i++) {
      if (!(o >= verneed.offset && o + F.VERNEED_SIZE <= end))
        r.fail(`.gnu.version_r entry ${i} lies outside the section`, { field: 'vn_next' });
      const cnt = r.u16(o + F.VN_CNT);
      const file = vsStr.get(r.u32(o + F.VN_FILE), 'vn_file');
      const versions: ElfVersionNeedEntry[] = [];
      let a = o + r.u32(o + F.VN_AUX);
      for (let j = 0; j < cnt; j++) {
        if (--budget < 0)
          r.fail(`.gnu.version_r entry ${i} has more auxiliary entries than fit`, { field: 'vn_cnt' });
        if (!(a >= verneed.offset && a + F.VERNAUX_SIZE <= end))
          r.fail(`.gnu.version_r entry ${i} auxiliary ${j} lies outside the section`, { field: 'vna_next' });
        versions.push({
          index: r.u16(a + F.VNA_OTHER),
          flags: r.u16(a + F.VNA_FLAGS),
          name: vsStr.get(r.u32(a + F.VNA_NAME), 'vna_name'),
        });
        a += r.u32(a + F.VNA_NEXT);
      }
      versionNeeds.push({ file, versions });
      const next = r.u32(o + F.VN_NEXT);
      if (next === 0) break;
      o += next;
    }
  }

  const defByIndex = new Map<number, ElfVersionDefinition>();
  for (const v of versionDefinitions) if (!defByIndex.has(v.index)) defByIndex.set(v.index, v);
  const needByIndex = new Map<number, { file: string; name: string }>();
  for (const n of versionNeeds)
    for (const v of n.versions)
      if (!needByIndex.has(v.index)) needByIndex.set(v.index, { file: n.file, name: v.name });

  if (versym && nsyms > 0 && versym.size < nsyms * 2)
    r.fail(`.gnu.version has ${Math.floor(versym.size / 2)} entries for ${nsyms} symbols`, {
      field: 'sh_size',
    });

  const symbols: ElfSymbol[] = [];
  if (symRange && symStr) {
    for (let i = 0; i < nsyms; i++) {
      const o = symRange.offset + i * symL.sizeBytes;
      const info = r.u8(o + symL.st_info);
      const shndx = r.u16(o + symL.st_shndx);
      const defined = shndx !== F.SHN_UNDEF;
      let versionIndex: number | null = null;
      let hidden = false;
      let version: string | null = null;
      let versionFile: string | null = null;
      if (versym) {
        const raw = r.u16(versym.offset + i * 2);
        versionIndex = raw & F.VERSYM_VERSION;
        hidden = (raw & F.VERSYM_HIDDEN) !== 0;
        if (versionIndex > F.VER_NDX_GLOBAL) {
          const def = defined ? defByIndex.get(versionIndex) : undefined;
          if (def) version = def.name;
          else {
            const need = needByIndex.get(versionIndex);
            if (need) {
              version = need.name;
              versionFile = need.file;
            }
          }
        }
      }
      symbols.push({
        index: i,
        name: symStr.get(r.u32(o + symL.st_name), 'st_name'),
        binding: info >> 4,
        type: info & 0xf,
        visibility: r.u8(o + symL.st_other) & 3,
        sectionIndex: shndx,
        size: r.word(o + symL.st_size),
        defined,
        versionIndex,
        hidden,
        version,
        versionFile,
      });
    }
  }

  return {
    ...empty,
    dynamic: true,
    needed: dyn.needed.map((i) => str(i, 'DT_NEEDED')!),
    soname: str(dyn.soname, 'DT_SONAME'),
    rpath: str(dyn.rpath, 'DT_RPATH'),
    runpath: str(dyn.runpath, 'DT_RUNPATH'),
    flags: dyn.flags,
    flags1: dyn.flags1,
    symbols,
    versionDefinitions,
    versionNeeds,
  };
}
