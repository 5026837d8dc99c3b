/**
 * Test helper: runs GNU readelf on a file and parses the parts the ELF extractor decodes, in the
 * decoder's terms, so tests compare field by field.
 */
import { execFileSync } from 'node:child_process';

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
    const m = /^\s*(\d+): [0-9a-f]+\s+\S+ (\S+)\s+(\S+)\s+(\S+)\s+(\S+) ?(.*)$/.exec(line);
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
