/**
 * Interface extractors: pure functions from a tree's bytes to a binding-free interface manifest
 * (what it provides and requires), and the I/O shells that read trees from disk.
 * @see specs/interface.md
 */
export {
  PYTHON_EXTRACTOR_IDENTITY,
  PYTHON_MANIFEST_KIND,
  PYTHON_MANIFEST_VERSION,
  buildPythonManifest,
  parsePythonManifest,
  pythonManifestDigest,
} from './python/manifest.ts';
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
} from './python/manifest.ts';
export { parsePythonImports, decodePythonSource } from './python/imports.ts';
export type { ImportStatement, ImportedName, ParsedPythonSource, SourceError } from './python/imports.ts';
export { parseRecord, recordHash } from './python/record.ts';
export { parseMetadata, parseTopLevel } from './python/metadata.ts';
export { moduleOfPath, resolveRelativeImport } from './python/module-names.ts';
export { STDLIB_MODULE_NAMES, STDLIB_SOURCE } from './python/stdlib-cpython-3.11.ts';
export { readPythonManifest, listPythonTree } from './python/read-tree.ts';
