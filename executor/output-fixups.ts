/**
 * The executor's output fixups (specs/executor.md §7 step 6): what the builder does to an output
 * tree after the recipe ran and before it is ingested, the way a distribution's helper
 * (`dh_shlibdeps`, `chrpath -d`) does it, never a change to upstream's source.
 *
 * One fixup so far: an ELF file's DT_RPATH or DT_RUNPATH whose every directory is one of the
 * loader's default directories (`/lib/<triplet>`, `/usr/lib/<triplet>`, `/lib`, `/usr/lib`) or
 * inside the sandbox's build directory (`/build`, `SANDBOX_BUILD_DIR`) is removed. A default
 * directory changes nothing where the loader searches it anyway (the runtime composition: the
 * libraries are there), but it makes the file look up its libraries by a path of the build
 * machine: GNU readline's `support/shobj-conf` adds `-Wl,-rpath,$(libdir)` on Linux, so
 * `libreadline.so`'s RUNPATH is `/usr/lib/<triplet>`. A directory under `/build` can never be valid
 * at run time (the sandbox's build tree is gone): jq 1.6's installed `/usr/bin/jq` keeps the
 * libtool build-tree RUNPATH `/build/src/.libs` (the program was not relinked for install); at run
 * time that is at best a dead lookup, at worst a library planted there. A path that names any other directory (`$ORIGIN`, an
 * install prefix) is left as it is, and stays a warning.
 *
 * The entry is removed as `chrpath -d` removes it: the later dynamic entries move up one slot and
 * the last slot becomes DT_NULL; the string stays in `.dynstr` (unreferenced). ELF32 and ELF64, both
 * byte orders.
 *
 * @see specs/executor.md §7
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { SANDBOX_BUILD_DIR } from './sandbox.ts';

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NULL = 0n;
const DT_STRTAB = 5n;
const DT_RPATH = 15n;
const DT_RUNPATH = 29n;

/** The loader's default library directories for a multiarch triplet (no trailing slash). */
export function defaultLibraryDirs(triplet: string): string[] {
  return [`/lib/${triplet}`, `/usr/lib/${triplet}`, '/lib', '/usr/lib'];
}

/** One fixup applied to one file. shape: `path` is `/`-rooted in the output; `entry` RPATH|RUNPATH. */
export interface FixupNote {
  path: string;
  entry: 'RPATH' | 'RUNPATH';
  value: string;
}

interface Elf {
  b: Buffer;
  is64: boolean;
  le: boolean;
}

function word(e: Elf, off: number): bigint {
  if (e.is64) return e.le ? e.b.readBigUInt64LE(off) : e.b.readBigUInt64BE(off);
  return BigInt(e.le ? e.b.readUInt32LE(off) : e.b.readUInt32BE(off));
}

function half(e: Elf, off: number): number {
  return e.le ? e.b.readUInt16LE(off) : e.b.readUInt16BE(off);
}

function u32(e: Elf, off: number): number {
  return e.le ? e.b.readUInt32LE(off) : e.b.readUInt32BE(off);
}

function writeWord(e: Elf, off: number, v: bigint): void {
  if (e.is64) {
    if (e.le) e.b.writeBigUInt64LE(v, off);
    else e.b.writeBigUInt64BE(v, off);
  } else if (e.le) e.b.writeUInt32LE(Number(v), off);
  else e.b.writeUInt32BE(Number(v), off);
}

interface Segment {
  type: number;
  offset: number;
  vaddr: bigint;
  filesz: bigint;
}

function segments(e: Elf): Segment[] {
  const phoff = Number(word(e, e.is64 ? 0x20 : 0x1c));
  const phentsize = half(e, e.is64 ? 0x36 : 0x2a);
  const phnum = half(e, e.is64 ? 0x38 : 0x2c);
  const out: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (p + phentsize > e.b.length) break;
    out.push(
      e.is64
        ? {
            type: u32(e, p),
            offset: Number(word(e, p + 8)),
            vaddr: word(e, p + 16),
            filesz: word(e, p + 32),
          }
        : { type: u32(e, p), offset: Number(word(e, p + 4)), vaddr: word(e, p + 8), filesz: word(e, p + 16) },
    );
  }
  return out;
}

/**
 * Removes the RPATH/RUNPATH entries of one ELF file's bytes whose every directory is in `defaults`
 * or inside `buildDir` (when given: the sandbox's build directory, `/build`), in place.
 * Returns what it removed (empty: the bytes are unchanged). Bytes that are not an ELF file with a
 * readable dynamic segment are left alone.
 */
export function stripDefaultRunpath(
  b: Buffer,
  defaults: readonly string[],
  buildDir?: string,
): { entry: FixupNote['entry']; value: string }[] {
  const removed: { entry: FixupNote['entry']; value: string }[] = [];
  if (b.length < 0x34 || b[0] !== 0x7f || b.toString('latin1', 1, 4) !== 'ELF') return removed;
  const cls = b[4];
  const data = b[5];
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2)) return removed;
  const e: Elf = { b, is64: cls === 2, le: data === 1 };
  if (e.is64 && b.length < 0x40) return removed;
  const segs = segments(e);
  const dyn = segs.find((s) => s.type === PT_DYNAMIC);
  if (!dyn || dyn.filesz === 0n) return removed;
  const ent = e.is64 ? 16 : 8;
  const start = dyn.offset;
  const end = Math.min(b.length, start + Number(dyn.filesz));
  const entries: { tag: bigint; val: bigint }[] = [];
  for (let p = start; p + ent <= end; p += ent) {
    const tag = word(e, p);
    entries.push({ tag, val: word(e, p + ent / 2) });
    if (tag === DT_NULL) break;
  }
  const strtab = entries.find((x) => x.tag === DT_STRTAB)?.val;
  if (strtab === undefined) return removed;
  const load = segs.find((s) => s.type === PT_LOAD && s.vaddr <= strtab && strtab < s.vaddr + s.filesz);
  if (!load) return removed;
  const strOff = load.offset + Number(strtab - load.vaddr);
  const str = (off: bigint): string | undefined => {
    const at = strOff + Number(off);
    if (at < 0 || at >= b.length) return undefined;
    const nul = b.indexOf(0, at);
    return b.toString('utf8', at, nul < 0 ? b.length : nul);
  };
  const allowed = new Set(defaults);
  const removable = (d: string) =>
    allowed.has(d) || (buildDir !== undefined && (d === buildDir || d.startsWith(`${buildDir}/`)));
  const kept = entries.filter((x) => {
    if (x.tag !== DT_RPATH && x.tag !== DT_RUNPATH) return true;
    const v = str(x.val);
    if (v === undefined) return true;
    const dirs = v.split(':').map((d) => (d.length > 1 ? d.replace(/\/+$/, '') : d));
    if (dirs.length === 0 || !dirs.every(removable)) return true;
    removed.push({ entry: x.tag === DT_RPATH ? 'RPATH' : 'RUNPATH', value: v });
    return false;
  });
  if (removed.length === 0) return removed;
  // Rewrite the entries up to and including the DT_NULL; the freed slots become DT_NULL.
  for (let i = 0; i < entries.length; i++) {
    const x = kept[i] ?? { tag: DT_NULL, val: 0n };
    writeWord(e, start + i * ent, x.tag);
    writeWord(e, start + i * ent + ent / 2, x.val);
  }
  return removed;
}

async function walkFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  const names = (await fs.readdir(join(dir, rel))).sort();
  for (const n of names) {
    const r = rel ? `${rel}/${n}` : n;
    const st = await fs.lstat(join(dir, r));
    if (st.isDirectory()) out.push(...(await walkFiles(dir, r)));
    else if (st.isFile()) out.push(r);
  }
  return out;
}

/**
 * Applies the output fixups to the output directory `dir` (see the module comment), in place:
 * a file is rewritten only when a fixup changed it (its mode is kept; a file hard-linked under
 * several names is changed once for all of them and noted under its first name). Returns one note per change, sorted by path.
 * @throws the OS error of a file that cannot be read or written
 */
export async function fixupOutput(dir: string, triplet: string): Promise<FixupNote[]> {
  const defaults = defaultLibraryDirs(triplet);
  const notes: FixupNote[] = [];
  for (const rel of await walkFiles(dir)) {
    const p = join(dir, rel);
    const fh = await fs.open(p, 'r');
    const magic = Buffer.alloc(4);
    await fh.read(magic, 0, 4, 0);
    await fh.close();
    if (magic[0] !== 0x7f || magic.toString('latin1', 1, 4) !== 'ELF') continue;
    const bytes = await fs.readFile(p);
    const removed = stripDefaultRunpath(bytes, defaults, SANDBOX_BUILD_DIR);
    // A second name of a hard-linked file finds it already fixed (nothing removed).
    if (removed.length === 0) continue;
    // A read-only file (install -m 444) is made writable for the rewrite, then given its mode back.
    const st = await fs.stat(p);
    await fs.chmod(p, st.mode | 0o200);
    await fs.writeFile(p, bytes);
    await fs.chmod(p, st.mode & 0o7777);
    for (const r of removed) notes.push({ path: `/${rel}`, ...r });
  }
  return notes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
