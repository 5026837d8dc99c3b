/**
 * The composefs dump format (man composefs-dump(5)): one line per path with eleven fixed fields
 * `PATH SIZE MODE NLINK UID GID RDEV MTIME PAYLOAD CONTENT DIGEST`, then `KEY=VALUE` xattrs;
 * `\xHH`, `\\`, `\n`, `\r`, `\t` escapes; `-` for an unset optional field; `@` before MODE for
 * a hard link whose PAYLOAD is the target path. Pure: bytes or text in, a validated tree out,
 * and back. Gzipped dumps are unpacked by the I/O layer (`io.ts`).
 *
 * @see specs/composefs.md §5
 */
import { ComposefsError } from '../../src/kernel/index.ts';
import {
  S_IFMT,
  S_IFLNK,
  S_IFCHR,
  S_IFBLK,
  NAME_MAX,
  XATTR_EXTERNAL_MAX,
  XATTR_NAME_MAX,
  XATTR_VALUE_MAX,
  INLINE_CONTENT_MAX,
} from './format.ts';
import { fileTypeOf, newInode, validateTree } from './tree.ts';
import type { CfsEntry, CfsInode, ComposefsTree } from './tree.ts';

const SPACE = 0x20;
const NL = 0x0a;
const BACKSLASH = 0x5c;

class LineError extends Error {}

function fail(msg: string): never {
  throw new LineError(msg);
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** Unescapes one field (`\\`, `\n`, `\r`, `\t`, `\xHH`). */
function unescape(b: Uint8Array): Uint8Array {
  if (b.indexOf(BACKSLASH) < 0) return b;
  const out = new Uint8Array(b.length);
  let o = 0;
  for (let i = 0; i < b.length;) {
    const c = b[i++]!;
    if (c !== BACKSLASH) {
      out[o++] = c;
      continue;
    }
    if (i >= b.length) fail('no character after escape');
    const e = b[i++]!;
    if (e === BACKSLASH) out[o++] = BACKSLASH;
    else if (e === 0x6e) out[o++] = 0x0a;
    else if (e === 0x72) out[o++] = 0x0d;
    else if (e === 0x74) out[o++] = 0x09;
    else if (e === 0x78) {
      if (i + 2 > b.length) fail('no hex characters after \\x escape');
      const h = hexVal(b[i]!);
      const l = hexVal(b[i + 1]!);
      if (h < 0 || l < 0) fail('invalid hex characters after \\x escape');
      out[o++] = (h << 4) | l;
      i += 2;
    } else fail(`unsupported escape \\${String.fromCharCode(e)}`);
  }
  return out.subarray(0, o);
}

function isDash(b: Uint8Array): boolean {
  return b.length === 1 && b[0] === 0x2d;
}

function optional(b: Uint8Array): Uint8Array | null {
  return isDash(b) ? null : unescape(b);
}

function ascii(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
}

/** The largest number a dump field may hold: 2^53, exactly representable. */
const NUMBER_MAX = 2n ** 53n;

function parseUint(b: Uint8Array, what: string, radix: 8 | 10 = 10): number {
  if (b.length === 0 || b.length > 20) fail(`invalid ${what} '${ascii(b)}'`);
  let v = 0n;
  const r = BigInt(radix);
  for (let i = 0; i < b.length; i++) {
    const d = b[i]! - 0x30;
    if (d < 0 || d >= radix) fail(`invalid ${what} '${ascii(b)}'`);
    v = v * r + BigInt(d);
  }
  // 2^53 itself is exact (the largest file, specs/composefs.md §3); above it numbers would round.
  if (v > NUMBER_MAX) fail(`${what} '${ascii(b)}' is too large (at most 2^53)`);
  return Number(v);
}

function noNul(b: Uint8Array, what: string): Uint8Array {
  if (b.indexOf(0) >= 0) fail(`NUL byte in ${what}`);
  return b;
}

interface DirState {
  inode: CfsInode;
  children: Map<string, CfsEntry>;
}

/** State of one parse: directories by path key, hard links to resolve at the end. */
class DumpParser {
  root: CfsInode | undefined;
  rootEntry: CfsEntry | undefined;
  readonly dirs = new Map<CfsInode, DirState>();
  readonly links: { entry: CfsEntry; target: Uint8Array | null; line: number }[] = [];
  readonly linkTo = new Map<CfsEntry, CfsEntry>();
  lineNo = 0;
  lastParent: DirState | undefined;
  lastParentBytes: Uint8Array | undefined;

  /** Path components as mkcomposefs's lookup_path reads them: any run of `/` separates, leading
   * and trailing ones are ignored (`/a/` is `a`, `/` and `` are the root). */
  splitPath(path: Uint8Array): string[] {
    return ascii(path)
      .split('/')
      .filter((p) => p !== '');
  }

  lookup(path: Uint8Array): CfsEntry | undefined {
    const parts = this.splitPath(path);
    if (parts.length === 0) return this.rootEntry;
    let dir = this.dirs.get(this.root!)!;
    for (let i = 0; i < parts.length; i++) {
      const e = dir.children.get(parts[i]!);
      if (!e) return undefined;
      if (i === parts.length - 1) return e;
      const d = e.hardlink ? undefined : this.dirs.get(e.inode);
      if (!d) return undefined;
      dir = d;
    }
    return undefined;
  }

  finish(): ComposefsTree {
    if (!this.root) throw new ComposefsError('dump: no root line (/)', { data: { line: this.lineNo } });
    for (const l of this.links) {
      located(l.line, () => {
        if (!l.target) fail('no target path for the hard link');
        const target = this.lookup(l.target);
        if (!target) fail(`no target at ${showBytes(l.target)} for the hard link`);
        if (target === l.entry) fail(`self-referential hard link ${showBytes(l.target)}`);
        this.linkTo.set(l.entry, target);
      });
    }
    for (const l of this.links) {
      located(l.line, () => {
        let cur = l.entry;
        const seen = new Set<CfsEntry>();
        while (cur.hardlink) {
          if (seen.has(cur)) fail('hard link cycle');
          seen.add(cur);
          cur = this.linkTo.get(cur)!;
        }
        // A link's own mode must not be a directory (checked on its line), but its target may be
        // one: mkcomposefs writes a second dirent to the directory (specs/composefs.md §5).
        l.entry.inode = cur.inode;
      });
    }
    for (const d of this.dirs.values()) d.inode.entries = [...d.children.values()];
    return validateTree(this.root);
  }

  parseLine(line: Uint8Array): void {
    const nul = line.indexOf(0);
    if (nul >= 0) fail(`embedded NUL character at position ${nul}`);
    const fields: Uint8Array[] = [];
    let p = 0;
    for (let i = 0; i < 11; i++) {
      // Like mkcomposefs, missing trailing fields are empty (and then fail where a value is needed).
      if (p > line.length) {
        fields.push(line.subarray(line.length));
        continue;
      }
      let q = line.indexOf(SPACE, p);
      if (q < 0) q = line.length;
      fields.push(line.subarray(p, q));
      p = q + 1;
    }
    const rest = p <= line.length ? line.subarray(p) : new Uint8Array(0);
    const path = noNul(unescape(fields[0]!), 'path');
    if (path.length === 0) fail('invalid empty path');
    let modeField = fields[2]!;
    const isHardlink = modeField.length > 0 && modeField[0] === 0x40;
    if (isHardlink) modeField = modeField.subarray(1);
    const mode = parseUint(modeField, 'mode', 8);
    if (mode > 0xffffffff) fail(`invalid mode ${ascii(modeField)}`);
    let type: string;
    try {
      type = fileTypeOf(mode);
    } catch {
      fail(`invalid mode ${mode.toString(8)}`);
    }
    const inode = newInode(mode);
    const isRoot = path.length === 1 && path[0] === 0x2f;
    let entry: CfsEntry | undefined;
    if (isRoot) {
      if (type !== 'dir') fail('root must be a directory');
      if (this.root) fail("can't have multiple roots");
      if (isHardlink) fail('the root cannot be a hard link');
      this.root = inode;
      this.rootEntry = { name: new Uint8Array(0), inode, hardlink: false };
      this.dirs.set(inode, { inode, children: new Map() });
    } else {
      if (!this.root) fail('root node not present');
      const slash = path.lastIndexOf(0x2f);
      const nameBytes = path.subarray(slash + 1);
      const parentBytes = path.subarray(0, Math.max(slash, 0));
      // Dumps list siblings together: reuse the previous line's parent when the prefix is the same.
      let parent: DirState;
      if (this.lastParent && this.lastParentBytes && Buffer.compare(parentBytes, this.lastParentBytes) === 0)
        parent = this.lastParent;
      else {
        parent = this.dirs.get(this.root)!;
        const parts = this.splitPath(parentBytes);
        for (const part of parts) {
          if (part === '') continue;
          const e: CfsEntry | undefined = parent.children.get(part);
          if (!e) fail(`parent directory missing for ${showBytes(path)}`);
          const d: DirState | undefined = e.hardlink ? undefined : this.dirs.get(e.inode);
          if (!d) fail(`parent must be a directory for ${showBytes(path)}`);
          parent = d;
        }
        this.lastParent = parent;
        this.lastParentBytes = parentBytes;
      }
      const name = ascii(nameBytes);
      if (name === '.' || name === '..') fail(`invalid . or .. in path: ${showBytes(path)}`);
      if (name.length === 0) fail(`empty file name in path ${showBytes(path)}`);
      if (name.length > NAME_MAX) fail(`file name longer than ${NAME_MAX} bytes in ${showBytes(path)}`);
      if (parent.children.has(name)) fail(`path ${showBytes(path)} already exists`);
      entry = { name: nameBytes, inode, hardlink: isHardlink };
      parent.children.set(name, entry);
      if (type === 'dir' && !isHardlink) this.dirs.set(inode, { inode, children: new Map() });
    }
    if (isHardlink) {
      if (type === 'dir') fail("directories can't be hard-linked");
      this.links.push({ entry: entry!, target: optional(fields[8]!), line: this.lineNo });
      return;
    }
    const size = parseUint(fields[1]!, 'size');
    inode.nlink = parseUint(fields[3]!, 'nlink');
    inode.uid = parseUint(fields[4]!, 'uid');
    inode.gid = parseUint(fields[5]!, 'gid');
    const rdev = parseUint(fields[6]!, 'rdev');
    const mt = fields[7]!;
    const dot = mt.indexOf(0x2e);
    if (dot < 0) fail(`invalid mtime '${ascii(mt)}' (expected SECONDS.NANOSECONDS)`);
    inode.mtimeSec = parseUint(mt.subarray(0, dot), 'mtime');
    inode.mtimeNsec = parseUint(mt.subarray(dot + 1), 'mtime nanoseconds');
    if (inode.nlink > 0xffffffff || inode.uid > 0xffffffff || inode.gid > 0xffffffff)
      fail('nlink, uid or gid out of range (u32)');
    if (inode.mtimeNsec > 0xffffffff) fail('mtime nanoseconds out of range (u32)');
    const payload = optional(fields[8]!);
    const content = optional(fields[9]!);
    if (content && content.length !== size)
      fail(`invalid content size ${content.length}, must match size ${size}`);
    const digestField = fields[10]!.length === 0 ? null : optional(fields[10]!);
    if (type !== 'symlink') inode.sizeBytes = size;
    if ((mode & S_IFMT) === S_IFCHR || (mode & S_IFMT) === S_IFBLK) inode.rdev = rdev;
    if ((mode & S_IFMT) === S_IFLNK) {
      if (!payload || payload.length === 0) fail('invalid symlink: empty target');
      if (content && content.length > 0) fail('a symlink cannot have content');
      inode.payload = noNul(payload, 'symlink target');
      inode.sizeBytes = payload.length;
    } else {
      if (payload) inode.payload = noNul(payload, 'payload');
      if (content) {
        if (content.length > INLINE_CONTENT_MAX)
          fail(`inline content size ${content.length} exceeds maximum ${INLINE_CONTENT_MAX}`);
        if (type !== 'file' && content.length > 0) fail('only regular files can have inline content');
        inode.content = content.length > 0 ? content : null;
        inode.sizeBytes = content.length;
      }
    }
    if (digestField) {
      const s = ascii(digestField);
      if (!/^[0-9a-fA-F]{64}$/.test(s)) fail(`invalid fs-verity digest '${s}' (expected 64 hex digits)`);
      inode.fsverityDigest = Buffer.from(s, 'hex');
    }
    if (rest.length > 0xffff) fail('too many xattrs');
    let accounted = 0;
    let q = 0;
    while (q < rest.length) {
      let r = rest.indexOf(SPACE, q);
      if (r < 0) r = rest.length;
      const tok = rest.subarray(q, r);
      q = r + 1;
      const eq = tok.indexOf(0x3d);
      if (eq < 0) fail('missing = in xattr');
      const name = noNul(unescape(tok.subarray(0, eq)), 'xattr name');
      const value = unescape(tok.subarray(eq + 1));
      if (name.length === 0 || name.length > XATTR_NAME_MAX)
        fail(`xattr name length ${name.length} not in 1..${XATTR_NAME_MAX}`);
      if (value.length > XATTR_VALUE_MAX) fail(`xattr value of ${value.length} bytes is too large`);
      const old = inode.xattrs.findIndex((x) => Buffer.compare(x.name, name) === 0);
      if (old >= 0) {
        const o = inode.xattrs[old]!;
        inode.xattrs.splice(old, 1);
        accounted = inode.xattrs.length === 0 ? 0 : accounted - (7 + o.name.length + o.value.length);
      }
      let add = 7 + name.length + value.length;
      if (inode.xattrs.length === 0) add += 12;
      if (accounted + add > XATTR_EXTERNAL_MAX)
        fail(`xattrs of this inode exceed ${XATTR_EXTERNAL_MAX} bytes`);
      accounted += add;
      inode.xattrs.push({ name, value });
    }
  }
}

function located(line: number, f: () => void): void {
  try {
    f();
  } catch (e) {
    if (e instanceof LineError)
      throw new ComposefsError(`dump line ${line}: ${e.message}`, { data: { line } });
    throw e;
  }
}

/**
 * Parses a composefs dump into a validated tree. Follows mkcomposefs: parents before children;
 * the root line `/` first; SIZE ignored for symlinks (the target length is used) and kept but
 * unused for directories; RDEV kept only for devices; a repeated xattr name replaces the earlier
 * value; hard links (`@MODE`, PAYLOAD = target path) are resolved after the last line and share
 * the target's inode (the other fields of a hard-link line are ignored); a missing final newline
 * is accepted.
 * @param input the dump text, or its bytes (not gzipped)
 * @throws ComposefsError E14 `dump line N: …` for the first bad line, or for an invalid tree
 * @see specs/composefs.md §5
 */
export function parseDump(input: string | Uint8Array): ComposefsTree {
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const parser = new DumpParser();
  let pos = 0;
  while (pos < buf.length) {
    let end = buf.indexOf(NL, pos);
    if (end < 0) end = buf.length;
    const line = buf.subarray(pos, end);
    pos = end + 1;
    parser.lineNo++;
    located(parser.lineNo, () => parser.parseLine(line));
  }
  return parser.finish();
}

function showBytes(b: Uint8Array): string {
  return Buffer.from(b).toString('utf8');
}

const ESC_STANDARD = 0;
const ESC_EQUAL = 1;
const ESC_LONE_DASH = 2;
const HEX = '0123456789abcdef';

/** Escapes bytes as composefs-info does: `\\ \n \r \t`, `\xHH` for non-graphic bytes (and `=` in xattrs). */
function escape(b: Uint8Array, flags: number): string {
  if (flags & ESC_LONE_DASH && b.length === 1 && b[0] === 0x2d) return '\\x2d';
  let plain = true;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c <= 0x20 || c >= 0x7f || c === BACKSLASH || (c === 0x3d && flags & ESC_EQUAL)) {
      plain = false;
      break;
    }
  }
  if (plain) return ascii(b);
  let s = '';
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === BACKSLASH) s += '\\\\';
    else if (c === 0x0a) s += '\\n';
    else if (c === 0x0d) s += '\\r';
    else if (c === 0x09) s += '\\t';
    else if (c <= 0x20 || c >= 0x7f || (c === 0x3d && flags & ESC_EQUAL))
      s += '\\x' + HEX[c >> 4] + HEX[c & 15];
    else s += String.fromCharCode(c);
  }
  return s;
}

/**
 * Encodes a tree as a composefs dump, as `composefs-info dump` prints an image: depth-first, entries
 * in byte order, paths escaped, a hard link printed with `@MODE`, the target's fields and the
 * target's path as PAYLOAD, xattrs in the inode's (sorted) order. Ends with a newline.
 * @see specs/composefs.md §5
 */
export function encodeDump(tree: ComposefsTree): string {
  // First pass: the path of every inode's primary entry, for hard links.
  const primaryPath = new Map<CfsInode, string>();
  const stack: { inode: CfsInode; path: string }[] = [{ inode: tree.root, path: '' }];
  while (stack.length > 0) {
    const { inode, path } = stack.pop()!;
    primaryPath.set(inode, path === '' ? '/' : path);
    for (const e of inode.entries ?? [])
      if (!e.hardlink) stack.push({ inode: e.inode, path: path + '/' + escape(e.name, ESC_STANDARD) });
  }
  const out: string[] = [];
  const walk: { entry: CfsEntry | null; inode: CfsInode; path: string }[] = [
    { entry: null, inode: tree.root, path: '' },
  ];
  while (walk.length > 0) {
    const { entry, inode, path } = walk.pop()!;
    const link = entry?.hardlink === true;
    const payload = link
      ? primaryPath.get(inode)!
      : inode.payload
        ? escape(inode.payload, ESC_LONE_DASH)
        : '-';
    const content = inode.content ? escape(inode.content, ESC_LONE_DASH) : '-';
    const digest = inode.fsverityDigest ? Buffer.from(inode.fsverityDigest).toString('hex') : '-';
    let line =
      `${path === '' ? '/' : path} ${inode.sizeBytes} ${link ? '@' : ''}${inode.mode.toString(8)} ${inode.nlink} ` +
      `${inode.uid} ${inode.gid} ${inode.rdev} ${inode.mtimeSec}.${inode.mtimeNsec} ${payload} ${content} ${digest}`;
    for (const x of inode.xattrs) line += ` ${escape(x.name, ESC_EQUAL)}=${escape(x.value, ESC_EQUAL)}`;
    out.push(line);
    if (!link && inode.entries) {
      const es = inode.entries;
      for (let i = es.length - 1; i >= 0; i--) {
        const e = es[i]!;
        walk.push({ entry: e, inode: e.inode, path: path + '/' + escape(e.name, ESC_STANDARD) });
      }
    }
  }
  return out.join('\n') + '\n';
}
void ESC_STANDARD;
