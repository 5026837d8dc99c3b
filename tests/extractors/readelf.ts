/**
 * Test helper: runs GNU readelf on a file and parses the parts the ELF extractor decodes, in the
 * decoder's terms, so tests compare field by field.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { encodeCanonical } from '../../src/kernel/index.ts';
import {
  parseElf,
  bindingName,
  symbolTypeName,
  visibilityName,
  dtFlagsNames,
  dtFlags1Names,
  type ElfFile,
  type ElfSymbol,
} from '../../extractors/index.ts';

export interface ReadelfSymbol {
  index: number;
  type: string;
  bind: string;
  vis: string;
  ndx: string;
  /** The name column as printed: `name`, `name@@V`, `name@V` or `name@V (n)`. */
  display: string;
}

export interface ReadelfFacts {
  needed: string[];
  soname: string | null;
  rpath: string | null;
  runpath: string | null;
  flags: string | null;
  flags1: string | null;
  interpreter: string | null;
  symbols: ReadelfSymbol[];
  verdefs: { index: number; flags: number; name: string; parents: string[] }[];
  verneeds: { file: string; versions: { name: string; flags: number; index: number }[] }[];
}

function run(args: string[]): string {
  return execFileSync('readelf', args, {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: { ...process.env, LC_ALL: 'C' },
  });
}

function flagBits(s: string): number {
  let n = 0;
  for (const part of s.split('|').map((x) => x.trim())) {
    if (part === 'BASE') n |= 1;
    else if (part === 'WEAK') n |= 2;
    else if (part === 'INFO') n |= 4;
    else if (part !== 'none') throw new Error(`readelf version flag ${part}`);
  }
  return n;
}

/** Runs `readelf -dW`, `readelf --dyn-syms -W`, `readelf -V` and `readelf -lW` on a file and parses them. */
export function readelf(file: string): ReadelfFacts {
  const f: ReadelfFacts = {
    needed: [],
    soname: null,
    rpath: null,
    runpath: null,
    flags: null,
    flags1: null,
    interpreter: null,
    symbols: [],
    verdefs: [],
    verneeds: [],
  };
  for (const line of run(['-dW', file]).split('\n')) {
    const m = /^\s*0x[0-9a-f]+ \((\w+)\)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, tag, val] = m as unknown as [string, string, string];
    const bracket = /\[(.*)\]$/.exec(val)?.[1] ?? null;
    if (tag === 'NEEDED') f.needed.push(bracket!);
    else if (tag === 'SONAME') f.soname = bracket;
    else if (tag === 'RPATH') f.rpath = bracket;
    else if (tag === 'RUNPATH') f.runpath = bracket;
    else if (tag === 'FLAGS') f.flags = val.trim();
    else if (tag === 'FLAGS_1') f.flags1 = val.replace(/^Flags:/, '').trim();
  }
  const interp = /\[Requesting program interpreter: (.*)\]/.exec(run(['-lW', file]));
  f.interpreter = interp ? interp[1]! : null;
  let inDyn = false;
  for (const line of run(['--dyn-syms', '-W', file]).split('\n')) {
    if (line.startsWith("Symbol table '.dynsym'")) inDyn = true;
    else if (line.startsWith('Symbol table')) inDyn = false;
    if (!inDyn) continue;
    const m =
      /^\s*(\d+): [0-9a-f]+\s+\S+ (<[^>]+>: \d+|\S+)\s+(<[^>]+>: \d+|\S+)\s+(\S+)\s+(\S+) ?(.*)$/.exec(line);
    if (!m) continue;
    f.symbols.push({ index: Number(m[1]), type: m[2]!, bind: m[3]!, vis: m[4]!, ndx: m[5]!, display: m[6]! });
  }
  let mode: 'd' | 'r' | '' = '';
  for (const line of run(['-V', file]).split('\n')) {
    if (line.startsWith('Version definition section')) mode = 'd';
    else if (line.startsWith('Version needs section')) mode = 'r';
    else if (line.startsWith('Version symbols section')) mode = '';
    let m: RegExpExecArray | null;
    if (mode === 'd' && (m = /Rev: \d+\s+Flags: (.*?)\s+Index: (\d+)\s+Cnt: \d+\s+Name: (.*)$/.exec(line)))
      f.verdefs.push({ flags: flagBits(m[1]!), index: Number(m[2]), name: m[3]!, parents: [] });
    else if (mode === 'd' && (m = /Parent \d+: (.*)$/.exec(line)))
      f.verdefs[f.verdefs.length - 1]!.parents.push(m[1]!);
    else if (mode === 'r' && (m = /Version: \d+\s+File: (.*?)\s+Cnt: \d+$/.exec(line)))
      f.verneeds.push({ file: m[1]!, versions: [] });
    else if (mode === 'r' && (m = /Name: (.*?)\s+Flags: (.*?)\s+Version: (\d+)$/.exec(line)))
      f.verneeds[f.verneeds.length - 1]!.versions.push({
        name: m[1]!,
        flags: flagBits(m[2]!),
        index: Number(m[3]),
      });
  }
  return f;
}

/** The name column readelf prints for a decoded symbol (binutils 2.40 rules). */
export function readelfDisplay(s: ElfSymbol): string {
  if (s.version === null) return s.name;
  if (s.versionFile !== null) return `${s.name}@${s.version} (${s.versionIndex})`;
  // readelf omits the version of a definition whose name is the version's own name (glibc's
  // ABS version-marker symbols such as GLIBC_2.10).
  if (s.name === s.version) return s.name;
  return `${s.name}${s.hidden ? '@' : '@@'}${s.version}`;
}

/** readelf names GNU_UNIQUE and GNU_IFUNC only in GNU (and, for IFUNC, FreeBSD) OSABI files. */
function readelfBinding(e: ElfFile, binding: number): string {
  if (binding === 10 && e.osabi !== 3) return '<OS specific>: 10';
  return bindingName(binding);
}
function readelfType(e: ElfFile, type: number): string {
  if (type === 10 && e.osabi !== 3 && e.osabi !== 9) return '<OS specific>: 10';
  return symbolTypeName(type);
}

function ndx(n: number): string {
  if (n === 0) return 'UND';
  if (n === 0xfff1) return 'ABS';
  if (n === 0xfff2) return 'COM';
  return String(n);
}

/**
 * Decodes a file with the ELF extractor and with readelf and lists every difference (empty when
 * every field matches): needed, soname, rpath, runpath, flags, flags_1, interpreter, verdef,
 * verneed, and per symbol its index, type, binding, visibility, section index and versioned name.
 */
export function compareWithReadelf(file: string): string[] {
  const e = parseElf(readFileSync(file), file);
  const r = readelf(file);
  const diffs: string[] = [];
  const same = (what: string, a: unknown, b: unknown) => {
    // key-order-insensitive: compare canonical encodings
    if (Buffer.compare(Buffer.from(encodeCanonical(a)), Buffer.from(encodeCanonical(b))) !== 0)
      diffs.push(`${what}: eos ${JSON.stringify(a)} readelf ${JSON.stringify(b)}`);
  };
  same('needed', e.needed, r.needed);
  same('soname', e.soname, r.soname);
  same('rpath', e.rpath, r.rpath);
  same('runpath', e.runpath, r.runpath);
  same('flags', e.flags === null ? null : dtFlagsNames(e.flags).join(' '), r.flags);
  same('flags_1', e.flags1 === null ? null : dtFlags1Names(e.flags1).join(' '), r.flags1);
  same('interpreter', e.interpreter, r.interpreter);
  same('verdef', e.versionDefinitions, r.verdefs);
  same('verneed', e.versionNeeds, r.verneeds);
  same('symbol count', e.symbols.length, r.symbols.length);
  for (let i = 0; i < Math.min(e.symbols.length, r.symbols.length); i++) {
    const s = e.symbols[i]!;
    same(
      `symbol ${i}`,
      {
        index: s.index,
        type: readelfType(e, s.type),
        bind: readelfBinding(e, s.binding),
        vis: visibilityName(s.visibility),
        ndx: ndx(s.sectionIndex),
        display: readelfDisplay(s),
      },
      r.symbols[i],
    );
    if (s.defined !== (r.symbols[i]!.ndx !== 'UND')) diffs.push(`symbol ${i}: defined ${s.defined}`);
  }
  return diffs;
}
