// Builds real Python import roots for the Python extractor's tests: distributions copied from the
// host interpreter's site-packages (pip, setuptools, cffi with its extension module, as pip
// installed them, with real RECORD files) plus a hand-made `demo` package whose RECORD is written
// by Python's own csv and hashlib modules, the way an installer writes it.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The host interpreter's site-packages (pyenv's CPython 3.11), or null when python3 is missing. */
export function hostSitePackages(): string | null {
  try {
    const out = execFileSync('python3', ['-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'], {
      encoding: 'utf8',
    }).trim();
    return existsSync(out) ? out : null;
  } catch {
    return null;
  }
}

/** Runs a Python script (given on stdin) with arguments; returns its stdout. */
export function python(script: string, args: string[] = []): string {
  return execFileSync('python3', ['-I', '-', ...args], {
    input: script,
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
}

/** Real distributions copied from the host site-packages (top-level entries). */
export const COPIED = [
  'pip',
  'setuptools',
  'pkg_resources',
  '_distutils_hack',
  'distutils-precedence.pth',
  'cffi',
  '_cffi_backend.cpython-311-x86_64-linux-gnu.so',
];

/** The hand-made demo package: every import form the extractor must handle. */
export const DEMO_FILES: Record<string, string | Uint8Array> = {
  'demo/__init__.py': 'from . import util\nfrom .core import thing as t\nimport os, json as j\n',
  'demo/core.py': [
    'from __future__ import annotations',
    'import sys',
    'try:',
    '    import yaml',
    'except ImportError:',
    '    yaml = None',
    'if sys.platform == "win32":',
    '    import winreg',
    'else:',
    '    from posix import getpid',
    'def f():',
    '    import requests.adapters',
    '    from urllib.parse import (',
    '        quote,  # a comment inside the list',
    '        unquote as uq,',
    '    )',
    '    return quote, uq',
    'class C:',
    '    def g(self):',
    '        with open(__file__) as fh:',
    '            from demo import util',
    '        return fh',
    'import yaml  # also unconditionally: not optional',
    's = "import notamodule"  # text in a string is not an import',
    '# import alsonot',
    'thing = 1',
    '',
  ].join('\n'),
  'demo/util.py': 'from .. import outside\nfrom demo.core import thing\nfrom . import *\n',
  'demo/sub/__init__.py': '',
  'demo/sub/mod.py': [
    'from .. import util',
    'from ..core import thing',
    'from . import sibling',
    'from .sibling import x, y',
    'from ... import nope',
    'import demo.sub.sibling',
    'match thing:',
    '    case 1:',
    '        import csv',
    '    case _:',
    '        pass',
    '',
  ].join('\n'),
  'demo/sub/sibling.py': 'x = y = 1\n',
  'demo/broken.py': 'import os\ndef f(:\n    pass\nimport shutil\n',
  'demo/latin1.py': new Uint8Array([
    ...Buffer.from('# -*- coding: latin-1 -*-\nimport re\ns = "caf'),
    0xe9,
    ...Buffer.from('"\n'),
  ]),
  'demo/badutf8.py': new Uint8Array([...Buffer.from('import re\ns = "'), 0xff, 0xfe, ...Buffer.from('"\n')]),
  'demo/data/with,comma "quoted".txt': 'csv quotes this path in RECORD\n',
  'demo/data/not-a-module.py': 'from . import x\nimport abc\n',
  'loose.py': 'from . import x\nimport demo.sub\n',
  'fake_ext.cpython-311-x86_64-linux-gnu.so': 'not an ELF file',
  'bad_ext.abi3.so': new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0]),
};

/** Files of the demo distribution's metadata directory besides RECORD. */
const DEMO_DIST = 'demo-1.0.dist-info';
const DEMO_META: Record<string, string> = {
  [`${DEMO_DIST}/METADATA`]: 'Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nSummary: a demo\n\nbody\n',
  [`${DEMO_DIST}/top_level.txt`]: 'demo\nloose\n',
};

/** Writes RECORD for `dist` listing `files`, with Python's csv and hashlib (sha256, urlsafe base64, no padding). */
export function writeRecordWithPython(root: string, dist: string, files: string[]): void {
  python(
    `import csv, hashlib, base64, os, sys
root, dist = sys.argv[1], sys.argv[2]
rows = []
for p in sys.argv[3:]:
    data = open(os.path.join(root, p), 'rb').read()
    h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
    rows.append((p, 'sha256=' + h, str(len(data))))
rows.append((dist + '/RECORD', '', ''))
with open(os.path.join(root, dist, 'RECORD'), 'w', newline='') as f:
    csv.writer(f).writerows(rows)
`,
    [root, dist, ...files],
  );
}

/** Writes files (path → text or bytes) under root. */
export function writeFiles(root: string, files: Record<string, string | Uint8Array>): void {
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), content);
  }
}

/**
 * A fresh import root: the COPIED entries with their dist-info directories from `sitePackages`,
 * and the demo distribution. Returns its path.
 */
export function buildSitePackages(
  sitePackages: string,
  opts: { demo?: boolean; copied?: string[] } = {},
): string {
  const root = mkdtempSync(join(tmpdir(), 'eos-python-'));
  const wanted = opts.copied ?? COPIED;
  const names = execFileSync('ls', [sitePackages], { encoding: 'utf8' }).split('\n');
  for (const name of wanted) cpSync(join(sitePackages, name), join(root, name), { recursive: true });
  for (const name of names) {
    const dist = /^(.*)-[^-]+\.dist-info$/.exec(name);
    if (dist && wanted.includes(dist[1]!))
      cpSync(join(sitePackages, name), join(root, name), { recursive: true });
  }
  if (opts.demo !== false) {
    writeFiles(root, DEMO_FILES);
    writeFiles(root, DEMO_META);
    writeRecordWithPython(root, DEMO_DIST, [...Object.keys(DEMO_FILES), ...Object.keys(DEMO_META)].sort());
  }
  return root;
}
