/**
 * ELF on-disk layout: the constants and field offsets the decoder reads, in the order of the
 * System V gABI (ELF header, section headers, program headers, dynamic section, symbols) and the
 * GNU symbol-versioning extension (LSB Core, "Symbol Versioning"). Layout only; no logic.
 *
 * @see specs/interface.md §2
 * @see System V ABI, gABI chapter 4 ("Object Files") and chapter 5 ("Program Loading and Dynamic Linking")
 * @see Linux Standard Base Core Specification, "Symbol Versioning" (.gnu.version, .gnu.version_d, .gnu.version_r)
 */

// specs/interface.md §2.1: e_ident
/** The four magic bytes at offset 0: 0x7f 'E' 'L' 'F'. */
export const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46] as const;
/** e_ident[EI_CLASS] at 0x04: 1 = ELFCLASS32, 2 = ELFCLASS64. */
export const EI_CLASS = 0x04;
export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
/** e_ident[EI_DATA] at 0x05: 1 = ELFDATA2LSB (little-endian), 2 = ELFDATA2MSB (big-endian). */
export const EI_DATA = 0x05;
export const ELFDATA2LSB = 1;
export const ELFDATA2MSB = 2;
/** e_ident[EI_VERSION] at 0x06: must be EV_CURRENT (1). */
export const EI_VERSION = 0x06;
export const EV_CURRENT = 1;
/** e_ident[EI_OSABI] at 0x07: 0 ELFOSABI_NONE (System V), 3 ELFOSABI_GNU, 9 ELFOSABI_FREEBSD. */
export const EI_OSABI = 0x07;
export const ELFOSABI_GNU = 3;
export const ELFOSABI_FREEBSD = 9;

// specs/interface.md §2.1: ELF header fields after e_ident (offsets per class)
/** e_type at 0x10 (u16): the object file type. */
export const E_TYPE = 0x10;
/** e_machine at 0x12 (u16). */
export const E_MACHINE = 0x12;
export const ET_NONE = 0;
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;

/** Field offsets of the ELF header that differ between the classes. */
export interface HeaderLayout {
  /** Size of the whole ELF header in bytes. */
  readonly sizeBytes: number;
  readonly e_phoff: number;
  readonly e_shoff: number;
  readonly e_phentsize: number;
  readonly e_phnum: number;
  readonly e_shentsize: number;
  readonly e_shnum: number;
  readonly e_shstrndx: number;
}
export const HEADER32: HeaderLayout = {
  sizeBytes: 0x34,
  e_phoff: 0x1c,
  e_shoff: 0x20,
  e_phentsize: 0x2a,
  e_phnum: 0x2c,
  e_shentsize: 0x2e,
  e_shnum: 0x30,
  e_shstrndx: 0x32,
};
export const HEADER64: HeaderLayout = {
  sizeBytes: 0x40,
  e_phoff: 0x20,
  e_shoff: 0x28,
  e_phentsize: 0x36,
  e_phnum: 0x38,
  e_shentsize: 0x3a,
  e_shnum: 0x3c,
  e_shstrndx: 0x3e,
};
/** e_phnum value meaning "the real count is in section 0's sh_info". */
export const PN_XNUM = 0xffff;
/** e_shstrndx value meaning "the real index is in section 0's sh_link". */
export const SHN_XINDEX = 0xffff;

// specs/interface.md §2.2: section headers (Elf32_Shdr 40 bytes, Elf64_Shdr 64 bytes)
/** Field offsets of a section header. */
export interface SectionLayout {
  readonly sizeBytes: number;
  readonly sh_type: number;
  readonly sh_offset: number;
  readonly sh_size: number;
  readonly sh_link: number;
  readonly sh_info: number;
  readonly sh_entsize: number;
}
export const SHDR32: SectionLayout = {
  sizeBytes: 40,
  sh_type: 0x04,
  sh_offset: 0x10,
  sh_size: 0x14,
  sh_link: 0x18,
  sh_info: 0x1c,
  sh_entsize: 0x24,
};
export const SHDR64: SectionLayout = {
  sizeBytes: 64,
  sh_type: 0x04,
  sh_offset: 0x18,
  sh_size: 0x20,
  sh_link: 0x28,
  sh_info: 0x2c,
  sh_entsize: 0x38,
};
export const SHT_NULL = 0;
export const SHT_STRTAB = 3;
export const SHT_HASH = 5;
export const SHT_DYNAMIC = 6;
export const SHT_NOBITS = 8;
export const SHT_DYNSYM = 11;
export const SHT_GNU_VERDEF = 0x6ffffffd;
export const SHT_GNU_VERNEED = 0x6ffffffe;
export const SHT_GNU_VERSYM = 0x6fffffff;

// specs/interface.md §2.3: program headers (Elf32_Phdr 32 bytes, Elf64_Phdr 56 bytes)
/** Field offsets of a program header. */
export interface SegmentLayout {
  readonly sizeBytes: number;
  readonly p_type: number;
  readonly p_offset: number;
  readonly p_vaddr: number;
  readonly p_filesz: number;
}
export const PHDR32: SegmentLayout = {
  sizeBytes: 32,
  p_type: 0x00,
  p_offset: 0x04,
  p_vaddr: 0x08,
  p_filesz: 0x10,
};
export const PHDR64: SegmentLayout = {
  sizeBytes: 56,
  p_type: 0x00,
  p_offset: 0x08,
  p_vaddr: 0x10,
  p_filesz: 0x20,
};
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;

// specs/interface.md §2.4: dynamic section entries (Elf32_Dyn 8 bytes, Elf64_Dyn 16 bytes)
export const DYN32_SIZE = 8;
export const DYN64_SIZE = 16;
export const DT_NULL = 0;
export const DT_NEEDED = 1;
export const DT_HASH = 4;
export const DT_STRTAB = 5;
export const DT_SYMTAB = 6;
export const DT_STRSZ = 10;
export const DT_SYMENT = 11;
export const DT_SONAME = 14;
export const DT_RPATH = 15;
export const DT_RUNPATH = 29;
export const DT_FLAGS = 30;
export const DT_GNU_HASH = 0x6ffffef5;
export const DT_VERSYM = 0x6ffffff0;
export const DT_FLAGS_1 = 0x6ffffffb;
export const DT_VERDEF = 0x6ffffffc;
export const DT_VERDEFNUM = 0x6ffffffd;
export const DT_VERNEED = 0x6ffffffe;
export const DT_VERNEEDNUM = 0x6fffffff;

/** DT_FLAGS bits, lowest first, with the names readelf prints. */
export const DF_NAMES: readonly (readonly [number, string])[] = [
  [0x1, 'ORIGIN'],
  [0x2, 'SYMBOLIC'],
  [0x4, 'TEXTREL'],
  [0x8, 'BIND_NOW'],
  [0x10, 'STATIC_TLS'],
];
/** DT_FLAGS_1 bits, lowest first, with the names readelf prints. */
export const DF_1_NAMES: readonly (readonly [number, string])[] = [
  [0x1, 'NOW'],
  [0x2, 'GLOBAL'],
  [0x4, 'GROUP'],
  [0x8, 'NODELETE'],
  [0x10, 'LOADFLTR'],
  [0x20, 'INITFIRST'],
  [0x40, 'NOOPEN'],
  [0x80, 'ORIGIN'],
  [0x100, 'DIRECT'],
  [0x200, 'TRANS'],
  [0x400, 'INTERPOSE'],
  [0x800, 'NODEFLIB'],
  [0x1000, 'NODUMP'],
  [0x2000, 'CONFALT'],
  [0x4000, 'ENDFILTEE'],
  [0x8000, 'DISPRELDNE'],
  [0x10000, 'DISPRELPND'],
  [0x20000, 'NODIRECT'],
  [0x40000, 'IGNMULDEF'],
  [0x80000, 'NOKSYMS'],
  [0x100000, 'NOHDR'],
  [0x200000, 'EDITED'],
  [0x400000, 'NORELOC'],
  [0x800000, 'SYMINTPOSE'],
  [0x1000000, 'GLOBAUDIT'],
  [0x2000000, 'SINGLETON'],
  [0x4000000, 'STUB'],
  [0x8000000, 'PIE'],
  [0x10000000, 'KMOD'],
  [0x20000000, 'WEAKFILTER'],
  [0x40000000, 'NOCOMMON'],
];
/** DF_1_PIE: the object is a position-independent executable. */
export const DF_1_PIE = 0x8000000;

// specs/interface.md §2.5: symbols (Elf32_Sym 16 bytes, Elf64_Sym 24 bytes)
/** Field offsets of a symbol table entry. */
export interface SymbolLayout {
  readonly sizeBytes: number;
  readonly st_name: number;
  readonly st_info: number;
  readonly st_other: number;
  readonly st_shndx: number;
  /** st_size: Elf32_Word at 0x08, Elf64_Xword at 0x10. */
  readonly st_size: number;
}
export const SYM32: SymbolLayout = {
  sizeBytes: 16,
  st_name: 0x00,
  st_info: 0x0c,
  st_other: 0x0d,
  st_shndx: 0x0e,
  st_size: 0x08,
};
export const SYM64: SymbolLayout = {
  sizeBytes: 24,
  st_name: 0x00,
  st_info: 0x04,
  st_other: 0x05,
  st_shndx: 0x06,
  st_size: 0x10,
};
/** Section index of an undefined symbol. */
export const SHN_UNDEF = 0;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STB_GNU_UNIQUE = 10;
/** Binding names as readelf prints them (index = STB_* value). */
export const STB_NAMES: Readonly<Record<number, string>> = {
  0: 'LOCAL',
  1: 'GLOBAL',
  2: 'WEAK',
  10: 'UNIQUE',
};
/** Type names as readelf prints them (index = STT_* value). */
export const STT_NAMES: Readonly<Record<number, string>> = {
  0: 'NOTYPE',
  1: 'OBJECT',
  2: 'FUNC',
  3: 'SECTION',
  4: 'FILE',
  5: 'COMMON',
  6: 'TLS',
  10: 'IFUNC',
};
/** Visibility names (st_other & 3) as readelf prints them. */
export const STV_NAMES: readonly string[] = ['DEFAULT', 'INTERNAL', 'HIDDEN', 'PROTECTED'];
export const STV_DEFAULT = 0;
export const STV_PROTECTED = 3;

// specs/interface.md §2.6: GNU symbol versioning
/** .gnu.version: one u16 per dynamic symbol; bit 15 marks a hidden (non-default) version. */
export const VERSYM_HIDDEN = 0x8000;
export const VERSYM_VERSION = 0x7fff;
/** Version index 0: the symbol is local. */
export const VER_NDX_LOCAL = 0;
/** Version index 1: the symbol is global, unversioned (the base definition). */
export const VER_NDX_GLOBAL = 1;
/** Elf_Verdef (20 bytes): vd_version u16, vd_flags u16, vd_ndx u16, vd_cnt u16, vd_hash u32, vd_aux u32, vd_next u32. */
export const VERDEF_SIZE = 20;
export const VD_FLAGS = 0x02;
export const VD_NDX = 0x04;
export const VD_CNT = 0x06;
export const VD_AUX = 0x0c;
export const VD_NEXT = 0x10;
/** Elf_Verdaux (8 bytes): vda_name u32, vda_next u32. */
export const VERDAUX_SIZE = 8;
/** Elf_Verneed (16 bytes): vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32. */
export const VERNEED_SIZE = 16;
export const VN_CNT = 0x02;
export const VN_FILE = 0x04;
export const VN_AUX = 0x08;
export const VN_NEXT = 0x0c;
/** Elf_Vernaux (16 bytes): vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32. */
export const VERNAUX_SIZE = 16;
export const VNA_FLAGS = 0x04;
export const VNA_OTHER = 0x06;
export const VNA_NAME = 0x08;
export const VNA_NEXT = 0x0c;
/** vd_flags / vna_flags bits. */
export const VER_FLG_BASE = 0x1;
export const VER_FLG_WEAK = 0x2;
export const VER_FLG_INFO = 0x4;
