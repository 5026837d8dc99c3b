/**
 * The I/O shell of the Python extractor: lists an import root on disk (a `site-packages` or
 * `dist-packages` directory) and builds its Python manifest with a reader over the files.
 * Regular files are listed, and symbolic links that resolve to regular files (listed under the
 * link's path, read through it); links to directories are not followed.
 * @see specs/interface-python.md §2
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../src/kernel/index.ts';
import { fsError, walkFiles } from '../fs-walk.ts';
import { buildPythonManifest, type PythonManifest, type PythonManifestOptions } from './python-manifest.ts';

/**
 * The files of a directory tree as paths relative to it (`/`-separated), sorted by UTF-16 code units.
 * @throws NotFoundError E4 when `root` does not exist
 * @throws UsageError E1 when `root` is not a directory
 * @throws IoError E12 when a directory cannot be read
 */
export function listPythonTree(root: string): string[] {
  let st;
  try {
    st = statSync(root);
  } catch (e) {
    fsError(root, e);
  }
  if (!st.isDirectory())
    throw new UsageError(
      `${root}: not a directory (a Python import root such as site-packages is expected)`,
      {
        data: { path: root },
      },
    );
  const out: string[] = [];
  walkFiles(root, (_abs, rel) => out.push(rel), true);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Reads an import root from disk and builds its Python manifest.
 * @throws NotFoundError E4 when `root` does not exist
 * @throws UsageError E1 when `root` is not a directory
 * @throws IoError E12 when a directory or file cannot be read
 * @see specs/interface-python.md §2
 */
export function readPythonManifest(root: string, options: PythonManifestOptions = {}): PythonManifest {
  const paths = listPythonTree(root);
  return buildPythonManifest(
    {
      paths,
      read: (p) => {
        try {
          return readFileSync(join(root, p));
        } catch (e) {
          fsError(join(root, p), e);
        }
      },
    },
    options,
  );
}
