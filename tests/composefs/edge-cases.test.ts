/**
 * composefs edge cases found by the differential test against mkcomposefs (issue 15, item 13):
 * device numbers that do not fit the image's 32 bits, hard links whose target is a directory or
 * is written with a trailing slash, and a file of exactly 2^53 bytes (the format's largest).
 * Each is checked through the writer and the reader and, where the kernel shows the behaviour,
 * by mounting the image (EROFS on a loop device, and the composefs overlay over an objects
 * directory holding a sparse 2^53-byte object on tmpfs).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { readSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeImage,
  mountImage,
  newInode,
  parseDump,
  parseImage,
  unmountImage,
  validateTree,
} from '../../composer/composefs/index.ts';
import type { CfsInode } from '../../composer/composefs/index.ts';
import { setup } from './helpers.ts';

const isRoot = process.getuid?.() === 0;
const ROOT = '/ 0 40755 1 0 0 0 0.0 - - -\n';
const TWO53 = 2 ** 53;
/** glibc makedev. */
const makedev = (major: number, minor: number): number =>
  Number(
    ((BigInt(major) & 0xfffn) << 8n) |
      ((BigInt(major) & ~0xfffn) << 32n) |
      (BigInt(minor) & 0xffn) |
      ((BigInt(minor) & ~0xffn) << 12n),
  );

const name = (s: string): Uint8Array => Buffer.from(s);
function dirWith(entries: [string, CfsInode, boolean?][]): CfsInode {
  const d = newInode(0o40755);
  d.entries = entries.map(([n, inode, hardlink]) => ({ name: name(n), inode, hardlink: hardlink ?? false }));
  return d;
}

describe('device numbers (specs/composefs.md §3)', () => {
  for (const [what, mode] of [
    ['character', 0o20644],
    ['block', 0o60644],
  ] as const) {
    it(`refuses a ${what} device whose rdev has its low 32 bits zero (not a raw 0/0, not a whiteout)`, () => {
      const dev = newInode(mode, { rdev: makedev(4096, 0) });
      expect(dev.rdev % 2 ** 32).toBe(0);
      expect(() => validateTree(dirWith([['dev', dev]]))).toThrow(
        new RegExp(
          `\\[E14\\] /dev: ${what} device number 17592186044416 \\(major 4096, minor 0\\) does not fit`,
        ),
      );
      // The dump parser reaches the same rule.
      expect(() => parseDump(ROOT + `/dev 0 ${mode.toString(8)} 1 0 0 17592186044416 0.0 - - -\n`)).toThrow(
        /\[E14\] .*dev: .* device number 17592186044416 .*does not fit the 32 bits/,
      );
    });
  }

  it('refuses any rdev above 2^32 − 1 (truncation would change the device), keeps the largest that fits', () => {
    const big = newInode(0o20644, { rdev: makedev(4096, 5) });
    expect(() => validateTree(dirWith([['d', big]]))).toThrow(/truncated it would read 0\/5/);
    const max = newInode(0o20644, { rdev: makedev(4095, 0xfffff) });
    expect(max.rdev).toBe(0xffffffff);
    const back = parseImage(encodeImage(validateTree(dirWith([['d', max]])))).tree;
    expect(back.root.entries!.find((e) => Buffer.from(e.name).toString() === 'd')!.inode.rdev).toBe(
      0xffffffff,
    );
  });
});

describe('hard links mkcomposefs accepts (specs/composefs.md §5)', () => {
  const dump =
    ROOT +
    '/d 0 40755 2 0 0 0 0.0 - - -\n' +
    '/d/f 3 100644 1 0 0 0 0.0 - abc -\n' +
    '/e 0 40755 2 0 0 0 0.0 - - -\n' +
    '/e/to-dir 0 @100644 1 0 0 0 0.0 /d - -\n' +
    '/e/to-file 0 @100644 1 0 0 0 0.0 /d/f/ - -\n' +
    '/e/to-file2 0 @100644 1 0 0 0 0.0 //d//f - -\n' +
    '/to-root 0 @100644 1 0 0 0 0.0 / - -\n';

  it('parses a link whose target is a directory, or is written with a trailing or doubled slash', () => {
    const tree = parseDump(dump);
    const byName = (d: CfsInode, n: string) => d.entries!.find((e) => Buffer.from(e.name).toString() === n)!;
    const d = byName(tree.root, 'd');
    const e = byName(tree.root, 'e').inode;
    expect(byName(e, 'to-dir')).toMatchObject({ hardlink: true, inode: d.inode });
    expect(byName(e, 'to-file')).toMatchObject({ hardlink: true, inode: byName(d.inode, 'f').inode });
    expect(byName(e, 'to-file2').inode).toBe(byName(d.inode, 'f').inode);
    expect(byName(tree.root, 'to-root')).toMatchObject({ hardlink: true, inode: tree.root });
  });

  it('still refuses a link line whose own mode is a directory, and a target that names nothing', () => {
    expect(() => parseDump(ROOT + '/a 0 100644 1 0 0 0 0.0 - - -\n/b 0 @40755 1 0 0 0 0.0 /a - -\n')).toThrow(
      /line 3: directories can't be hard-linked/,
    );
    expect(() =>
      parseDump(ROOT + '/a 0 100644 1 0 0 0 0.0 - - -\n/b 0 @100644 1 0 0 0 0.0 /a/x - -\n'),
    ).toThrow(/line 3: no target at \/a\/x/);
  });

  it('writes the link as a second dirent to the directory (type DIR), which the reader reads back', () => {
    const image = encodeImage(parseDump(dump));
    const back = parseImage(image).tree;
    const e = back.root.entries!.find((x) => Buffer.from(x.name).toString() === 'e')!.inode;
    const link = e.entries!.find((x) => Buffer.from(x.name).toString() === 'to-dir')!;
    expect(link.hardlink).toBe(true);
    expect(link.inode.mode & 0o170000).toBe(0o40000);
    expect(link.inode.entries!.map((x) => Buffer.from(x.name).toString())).toEqual(['f']);
  });

  it.skipIf(!isRoot)('mounted (EROFS on a loop device) the link lists the directory', () => {
    setup();
    const work = mkdtempSync(join(tmpdir(), 'eos-cfs-edge-'));
    try {
      const image = join(work, 'links.cfs');
      writeFileSync(image, encodeImage(parseDump(dump)));
      // fsck.erofs reports the directory's `..` (it names /, not e): the image mkcomposefs writes too.
      const mnt = join(work, 'mnt');
      mkdirSync(mnt);
      execFileSync('mount', ['-t', 'erofs', '-o', 'ro,loop', image, mnt]);
      try {
        expect(readdirSync(join(mnt, 'e', 'to-dir'))).toEqual(['f']);
        expect(lstatSync(join(mnt, 'e', 'to-dir')).ino).toBe(lstatSync(join(mnt, 'd')).ino);
        expect(lstatSync(join(mnt, 'e', 'to-file')).ino).toBe(lstatSync(join(mnt, 'd', 'f')).ino);
        // A link to the root is a loop the kernel refuses to walk into (ELOOP), as with mkcomposefs.
        expect(() => readdirSync(join(mnt, 'to-root'))).toThrow(/ELOOP/);
      } finally {
        execFileSync('umount', [mnt]);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('a file of exactly 2^53 bytes (specs/composefs.md §1.4, §3)', () => {
  const external = (size: number) => {
    const f = newInode(0o100644, { sizeBytes: size });
    f.payload = name('ab/' + 'c'.repeat(62));
    return f;
  };

  it('is accepted by the tree, the dump parser, the writer and the reader; 2^53 + 1 is not', () => {
    const tree = validateTree(dirWith([['big', external(TWO53)]]));
    const back = parseImage(encodeImage(tree)).tree;
    expect(back.root.entries!.find((e) => Buffer.from(e.name).toString() === 'big')!.inode.sizeBytes).toBe(
      TWO53,
    );
    const parsed = parseDump(ROOT + `/big 9007199254740992 100644 1 0 0 0 0.0 ab/cd - -\n`);
    expect(parsed.root.entries![0]!.inode.sizeBytes).toBe(TWO53);
    // One more byte is 1025 chunks of 2^43 (and, as a number, would round to 2^53).
    expect(() => parseDump(ROOT + `/big 9007199254740993 100644 1 0 0 0 0.0 ab/cd - -\n`)).toThrow(
      /line 2: size '9007199254740993' is too large \(at most 2\^53\)/,
    );
    expect(() => validateTree(dirWith([['big', external(TWO53 + 2)]]))).toThrow(/sizeBytes .* out of range/);
  });

  describe.skipIf(!isRoot)('mounted', () => {
    let work: string;
    let objects: string;
    beforeAll(() => {
      setup();
      work = mkdtempSync(join(tmpdir(), 'eos-cfs-big-'));
      objects = join(work, 'objects');
      mkdirSync(objects);
      // tmpfs holds a sparse file of 2^53 bytes (ext4 stops at 16 TiB).
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1M', 'tmpfs', objects]);
      mkdirSync(join(objects, 'ab'));
      const fd = openSync(join(objects, 'ab', 'c'.repeat(62)), 'w');
      try {
        writeSync(fd, Buffer.from('END'), 0, 3, TWO53 - 3);
      } finally {
        closeSync(fd);
      }
    });
    afterAll(() => {
      spawnSync('umount', [objects]);
      rmSync(work, { recursive: true, force: true });
    });

    it('EROFS reports its size; the composefs view serves its last bytes from the sparse object', async () => {
      expect(statSync(join(objects, 'ab', 'c'.repeat(62))).size).toBe(TWO53);
      const image = join(work, 'big.cfs');
      writeFileSync(image, encodeImage(validateTree(dirWith([['big', external(TWO53)]]))));
      const raw = join(work, 'raw');
      mkdirSync(raw);
      execFileSync('mount', ['-t', 'erofs', '-o', 'ro,loop', image, raw]);
      try {
        expect(statSync(join(raw, 'big')).size).toBe(TWO53);
      } finally {
        execFileSync('umount', [raw]);
      }
      const mnt = join(work, 'mnt');
      mkdirSync(mnt);
      await mountImage(image, objects, mnt);
      try {
        expect(statSync(join(mnt, 'big')).size).toBe(TWO53);
        const fd = openSync(join(mnt, 'big'), 'r');
        const buf = Buffer.alloc(8);
        try {
          expect(readSync(fd, buf, 0, 8, TWO53 - 8)).toBe(8);
        } finally {
          closeSync(fd);
        }
        expect(buf.toString('latin1')).toBe('\0\0\0\0\0END');
      } finally {
        await unmountImage(mnt);
      }
    });
  });
});
