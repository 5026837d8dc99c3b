/**
 * Interface extractors: pure functions from a tree's bytes to a binding-free interface manifest
 * (what it provides and requires), the coverage check between provider versions, and the I/O
 * shell that reads trees from disk.
 * @see specs/interface.md
 */
export { parseElf, isElf, isLinkable } from './elf/parse-elf.ts';
export type {
  ElfFile,
  ElfSymbol,
  ElfVersionDefinition,
  ElfVersionNeed,
  ElfVersionNeedEntry,
} from './elf/parse-elf.ts';
export { bindingName, symbolTypeName, visibilityName, dtFlagsNames, dtFlags1Names } from './elf/names.ts';
export {
  EXTRACTOR_IDENTITY,
  INTERFACE_MANIFEST_KIND,
  INTERFACE_MANIFEST_VERSION,
  ELF_INTERFACE_KIND,
  interfaceDigest,
  interfaceOfElf,
  isExported,
  exportedName,
  assembleManifest,
  buildInterfaceManifest,
  manifestDigest,
  parseInterfaceManifest,
  providesVersionNode,
} from './elf-interface/interface-manifest.ts';
export type {
  ElfAbi,
  SharedObjectInterface,
  FileRequirements,
  InterfaceManifest,
  ElfFileInterface,
} from './elf-interface/interface-manifest.ts';
export {
  checkCoverage,
  COVERAGE_PROOF_KIND,
  COVERAGE_PROOF_VERSION,
  COVERAGE_REQUIREMENTS_KIND,
} from './elf-interface/coverage.ts';
export type {
  CoverageProof,
  CoverageRequirements,
  CoverageResult,
  SonameMissing,
  SonameRequirements,
} from './elf-interface/coverage.ts';
export { readInterfaceManifest, listElfFiles } from './elf-interface/elf-read-tree.ts';
export {
  interfaceCacheKey,
  storedInterfaceManifest,
  cachedInterfaceManifest,
  interfaceManifestOf,
} from './elf-interface/store-tree.ts';
export {
  PYTHON_EXTRACTOR_IDENTITY,
  PYTHON_MANIFEST_KIND,
  PYTHON_MANIFEST_VERSION,
  buildPythonManifest,
  elfExtensionRequirements,
  parsePythonManifest,
  pythonManifestDigest,
} from './python/python-manifest.ts';
export type {
  ExtensionRequirements,
  ImportScope,
  ModuleImport,
  PythonDistribution,
  PythonExtension,
  PythonFileRequirements,
  PythonManifest,
  PythonManifestOptions,
  PythonTree,
  RecordCheck,
  RecordMismatch,
} from './python/python-manifest.ts';
export { parsePythonImports, decodePythonSource } from './python/imports.ts';
export type { ImportStatement, ImportedName, ParsedPythonSource, SourceError } from './python/imports.ts';
export { parseRecord, recordHash } from './python/record.ts';
export { parseMetadata, parseTopLevel } from './python/metadata.ts';
export { moduleOfPath, resolveRelativeImport } from './python/module-names.ts';
export { STDLIB_MODULE_NAMES, STDLIB_SOURCE } from './python/stdlib-cpython-3.11.ts';
export { readPythonManifest, listPythonTree } from './python/python-read-tree.ts';
export {
  computeClosure,
  closureDigest,
  defaultLibraryDirs,
  describeReason,
  describeUnsatisfied,
  scriptInterpreter,
  scriptEnvCommand,
  ENV_COMMAND_PATH,
  newClosureDecodeCache,
  CLOSURE_KIND,
  CLOSURE_VERSION,
} from './closure/resolve-closure.ts';
export type {
  Closure,
  ClosureEntries,
  ClosureDecodeCache,
  ClosureInput,
  ClosureLink,
  ClosureMember,
  ClosureReason,
  Unsatisfied,
} from './closure/resolve-closure.ts';
export { ViewResolver, MAX_SYMLINKS } from './closure/view.ts';
export type { ClosureTree, ClosureDirEntry, ResolvedPath, FollowedLink } from './closure/view.ts';
export { readLdSoConf, parseLdSoConfText, globMatch } from './closure/ld-so-conf.ts';
export type { LdSoConf } from './closure/ld-so-conf.ts';
export {
  storeClosureTree,
  directoryClosureTree,
  compositionClosureEntries,
  lookupTreePath,
} from './closure/closure-read-tree.ts';
export type { ClosureComposition, ClosureEntryNode } from './closure/closure-read-tree.ts';
