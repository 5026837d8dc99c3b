/**
 * The ELF decoder on hand-built files in all four class/byte-order combinations (the host compiler
 * has no -m32 multilib and no big-endian target): the decoded values are the ones the builder put
 * in, readelf agrees, the section-less variant (program headers and dynamic tags only) decodes the
 * same, and malformed inputs raise E15 naming the file and the field.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ElfFormatError } from '../../src/kernel/index.ts';
import { parseElf, bindingName, symbolTypeName, visibilityName } from '../../extractors/index.ts';
import { demoLibrary, demoProgram } from './elf-builder.ts';
import { readelf } from './readelf.ts';

const tmp = mkdtempSync(join(tmpdir(), 'eos-elf-'));
let hasReadelf = true;
try {
  execFileSync('readelf', ['--version']);
} catch {
  hasReadelf = false;
  console.warn(
    'skipping readelf comparisons: no readelf on this machine (scripts/setup.sh installs binutils)',
  );
}

describe('hand-built ELF files', () => {
  for (const bits of [32, 64] as const)
    for (const endian of ['little', 'big'] as const) {
      it(`${bits}-bit ${endian}-endian library decodes to the values built in`, () => {
        const bytes = demoLibrary(bits, endian);
        const e = parseElf(bytes, 'libdemo.so.1');
        expect(e.bits).toBe(bits);
        expect(e.endian).toBe(endian);
        expect(e.type).toBe(3);
        expect(e.soname).toBe('libdemo.so.1');
        expect(e.needed).toEqual(['libc.so.6']);
        expect(e.runpath).toBe('$ORIGIN/../lib');
        expect(e.rpath).toBeNull();
        expect(e.flags).toBe(8);
        expect(e.flags1).toBe(1);
        expect(e.interpreter).toBeNull();
        expect(
          e.symbols.map((s) => [
            s.name,
            bindingName(s.binding),
            symbolTypeName(s.type),
            visibilityName(s.visibility),
            s.defined,
            s.version,
            s.hidden,
            s.versionFile,
          ]),
        ).toEqual([
          ['', 'LOCAL', 'NOTYPE', 'DEFAULT', false, null, false, null],
          ['demo_new', 'GLOBAL', 'FUNC', 'DEFAULT', true, 'DEMO_2.0', false, null],
          ['demo_old', 'GLOBAL', 'FUNC', 'DEFAULT', true, 'DEMO_1.0', true, null],
          ['demo_data', 'WEAK', 'OBJECT', 'PROTECTED', true, 'DEMO_1.0', false, null],
          ['demo_hidden', 'GLOBAL', 'FUNC', 'HIDDEN', true, null, false, null],
          ['printf', 'GLOBAL', 'FUNC', 'DEFAULT', false, 'GLIBC_2.2.5', false, 'libc.so.6'],
          ['__gmon_start__', 'WEAK', 'NOTYPE', 'DEFAULT', false, null, false, null],
          ['plain_undef', 'GLOBAL', 'FUNC', 'DEFAULT', false, null, false, null],
        ]);
        expect(e.versionDefinitions).toEqual([
          { index: 1, flags: 1, name: 'libdemo.so.1', parents: [] },
          { index: 2, flags: 0, name: 'DEMO_1.0', parents: [] },
          { index: 3, flags: 0, name: 'DEMO_2.0', parents: ['DEMO_1.0'] },
        ]);
        expect(e.versionNeeds).toEqual([
          { file: 'libc.so.6', versions: [{ name: 'GLIBC_2.2.5', index: 4, flags: 0 }] },
        ]);
      });

      it(`${bits}-bit ${endian}-endian: without section headers, program headers and dynamic tags give the same facts`, () => {
        const withSections = parseElf(demoLibrary(bits, endian), 'x');
        const without = parseElf(demoLibrary(bits, endian, false), 'x');
        expect(without).toEqual(withSections);
      });

      it.skipIf(!hasReadelf)(`${bits}-bit ${endian}-endian: readelf agrees`, () => {
        for (const [name, bytes] of [
          ['lib', demoLibrary(bits, endian)],
          ['prog', demoProgram(bits, endian)],
        ] as const) {
          const file = join(tmp, `${name}-${bits}-${endian}`);
          writeFileSync(file, bytes);
          const e = parseElf(bytes, file);
          const r = readelf(file);
          expect(e.needed).toEqual(r.needed);
          expect(e.soname).toBe(r.soname);
          expect(e.runpath).toBe(r.runpath);
          expect(e.interpreter).toBe(r.interpreter);
          expect(e.versionDefinitions).toEqual(r.verdefs);
          expect(e.versionNeeds).toEqual(r.verneeds);
          expect(e.symbols.map((s) => [s.index, bindingName(s.binding), symbolTypeName(s.type)])).toEqual(
            r.symbols.map((s) => [s.index, s.bind, s.type]),
          );
        }
      });
    }

  it('a program: interpreter, needed order, versions from verneed per file', () => {
    const e = parseElf(demoProgram(64, 'little'), 'prog');
    expect(e.interpreter).toBe('/lib64/ld-linux-x86-64.so.2');
    expect(e.needed).toEqual(['libdemo.so.1', 'libc.so.6']);
    expect(
      e.symbols
        .filter((s) => !s.defined && s.index > 0)
        .map((s) => `${s.name}@${s.version}:${s.versionFile}`),
    ).toEqual([
      'demo_new@DEMO_2.0:libdemo.so.1',
      'demo_old@DEMO_1.0:libdemo.so.1',
      'puts@GLIBC_2.2.5:libc.so.6',
      '__cxa_finalize@GLIBC_2.2.5:libc.so.6',
    ]);
  });
});

function e15(bytes: Uint8Array): ElfFormatError {
  try {
    parseElf(bytes, 'bad.so');
  } catch (e) {
    expect(e).toBeInstanceOf(ElfFormatError);
    expect((e as ElfFormatError).message).toMatch(/^\[E15\] bad\.so: /);
    return e as ElfFormatError;
  }
  throw new Error('no error');
}

describe('malformed ELF files raise E15 naming the file and what is wrong', () => {
  const good = demoLibrary(64, 'little');
  const patch = (at: number, bytes: number[]) => {
    const b = good.slice();
    b.set(bytes, at);
    return b;
  };
  it('bad magic', () => expect(e15(new Uint8Array([1, 2, 3, 4, 5])).message).toMatch(/not an ELF file/));
  it('truncated identification', () => expect(e15(good.subarray(0, 10)).message).toMatch(/truncated/));
  it('unknown class', () => expect(e15(patch(4, [3])).message).toMatch(/class 3/));
  it('unknown byte order', () => expect(e15(patch(5, [0])).message).toMatch(/data encoding/));
  it('truncated header', () => expect(e15(good.subarray(0, 40)).message).toMatch(/ELF header/));
  it('truncated file', () =>
    expect(e15(good.subarray(0, good.length - 100)).message).toMatch(/past the end/));
  it('huge section count', () => {
    // e_shnum = 0 with section 0's sh_size (extended count) set to 2^40
    const shoff = Number(new DataView(good.buffer).getBigUint64(0x28, true));
    const b = patch(0x3c, [0, 0]);
    new DataView(b.buffer).setBigUint64(shoff + 0x20, 1n << 40n, true);
    expect(e15(b).message).toMatch(/section header table/);
  });
  it('section offset past the end', () => {
    const shoff = Number(new DataView(good.buffer).getBigUint64(0x28, true));
    const b = good.slice();
    new DataView(b.buffer).setBigUint64(shoff + 3 * 64 + 0x18, 0xffffffffffn, true); // .dynsym sh_offset
    expect(e15(b).message).toMatch(/dynamic symbol table .* past the end/);
  });
  it('verneed count larger than its section', () => {
    const shoff = Number(new DataView(good.buffer).getBigUint64(0x28, true));
    const b = good.slice();
    new DataView(b.buffer).setUint32(shoff + 6 * 64 + 0x2c, 0xffffffff, true); // .gnu.version_r sh_info
    expect(e15(b).message).toMatch(/version_r claims 4294967295 entries/);
  });
});
