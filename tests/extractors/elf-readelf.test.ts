/**
 * The ELF decoder against GNU readelf on real files of this machine: every decoded field of the
 * dynamic section, the dynamic symbol table and the version sections, symbol by symbol
 * (`compareWithReadelf` in ./readelf.ts). bench/extract/compare-readelf.ts runs the same
 * comparison over every ELF file of a whole tree.
 */
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseElf } from '../../extractors/index.ts';
import { compareWithReadelf } from './readelf.ts';

const libdir = '/usr/lib/x86_64-linux-gnu';
function cc1(): string {
  const base = '/usr/lib/gcc/x86_64-linux-gnu';
  const versions = existsSync(base) ? readdirSync(base).sort() : [];
  for (const v of ['12', ...versions.reverse()])
    if (existsSync(`${base}/${v}/cc1`)) return `${base}/${v}/cc1`;
  return `${base}/12/cc1`;
}
const FILES = [
  `${libdir}/libssl.so.3`,
  `${libdir}/libcrypto.so.3`,
  `${libdir}/libc.so.6`,
  '/usr/bin/ls',
  cc1(),
  `${libdir}/libstdc++.so.6`,
  '/lib64/ld-linux-x86-64.so.2',
  // System V OSABI with STB_GNU_UNIQUE symbols: readelf prints their binding as "<OS specific>: 10"
  `${libdir}/libcc1.so.0`,
];

let hasReadelf = true;
try {
  execFileSync('readelf', ['--version']);
} catch {
  hasReadelf = false;
  console.warn(
    'skipping readelf comparisons: no readelf on this machine (scripts/setup.sh installs binutils)',
  );
}

describe.skipIf(!hasReadelf)('ELF decoder matches readelf on real files', () => {
  for (const file of FILES) {
    it.skipIf(!existsSync(file))(file, () => {
      expect(parseElf(readFileSync(file), file).symbols.length).toBeGreaterThan(10);
      expect(compareWithReadelf(file)).toEqual([]);
    });
  }
});
