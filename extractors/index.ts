/**
 * Interface extractors: pure functions from a tree's bytes to a binding-free interface manifest
 * (what it provides and requires), the coverage check between provider versions, and the I/O
 * shell that reads trees from disk.
 * @see specs/interface.md
 */
export { parseElf, isElf } from './elf/parse-elf.ts';
export type {
  ElfFile,
  ElfSymbol,
  ElfVersionDefinition,
  ElfVersionNeed,
  ElfVersionNeedEntry,
} from './elf/parse-elf.ts';
export { bindingName, symbolTypeName, visibilityName, dtFlagsNames, dtFlags1Names } from './elf/names.ts';
