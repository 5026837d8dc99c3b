/**
 * The ELF decoder against GNU readelf on real files of this machine: every decoded field of the
 * dynamic section, the dynamic symbol table and the version sections, symbol by symbol.
 */
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  parseElf,
  bindingName,
  symbolTypeName,
  visibilityName,
  dtFlagsNames,
  dtFlags1Names,
  type ElfFile,
} from '../../extractors/index.ts';
import { readelf } from './readelf.ts';

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

/** The name column readelf prints for a decoded symbol. */
function readelfDisplay(e: ElfFile, i: number): string {
  const s = e.symbols[i]!;
  if (s.version === null) return s.name;
  if (s.versionFile !== null) {
    return `${s.name}@${s.version} (${s.versionIndex})`;
  }
  // readelf omits the version of a definition whose name is the version's own name (glibc's
  // ABS version-marker symbols such as GLIBC_2.10).
  if (s.name === s.version) return s.name;
  return `${s.name}${s.hidden ? '@' : '@@'}${s.version}`;
}

function ndx(n: number): string {
  if (n === 0) return 'UND';
  if (n === 0xfff1) return 'ABS';
  if (n === 0xfff2) return 'COM';
  return String(n);
}

describe.skipIf(!hasReadelf)('ELF decoder matches readelf on real files', () => {
  for (const file of FILES) {
    it.skipIf(!existsSync(file))(file, () => {
      const e = parseElf(readFileSync(file), file);
      const r = readelf(file);
      expect(e.needed).toEqual(r.needed);
      expect(e.soname).toBe(r.soname);
      expect(e.rpath).toBe(r.rpath);
      expect(e.runpath).toBe(r.runpath);
      expect(e.flags === null ? null : dtFlagsNames(e.flags).join(' ')).toBe(r.flags);
      expect(e.flags1 === null ? null : dtFlags1Names(e.flags1).join(' ')).toBe(r.flags1);
      expect(e.interpreter).toBe(r.interpreter);
      expect(e.versionDefinitions).toEqual(r.verdefs);
      expect(e.versionNeeds).toEqual(r.verneeds);
      expect(e.symbols.length).toBe(r.symbols.length);
      expect(e.symbols.length).toBeGreaterThan(10);
      for (let i = 0; i < e.symbols.length; i++) {
        const s = e.symbols[i]!;
        const want = r.symbols[i]!;
        const got = {
          index: s.index,
          type: symbolTypeName(s.type),
          bind: bindingName(s.binding),
          vis: visibilityName(s.visibility),
          ndx: ndx(s.sectionIndex),
          display: readelfDisplay(e, i),
        };
        if (JSON.stringify(got) !== JSON.stringify(want)) expect(got, `${file} symbol ${i}`).toEqual(want);
        expect(s.defined).toBe(want.ndx !== 'UND');
      }
    });
  }
});
