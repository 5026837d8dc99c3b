import { describe, expect, it } from 'vitest';
import { ComposefsError } from '../../src/kernel/index.ts';
import {
  encodeDump,
  encodeImage,
  newInode,
  parseDump,
  parseImage,
  utf8,
  validateTree,
} from '../../composer/composefs/index.ts';
import { normalizeForImage } from './helpers.ts';

const ROOT = '/ 4096 40755 2 0 0 0 0.0 - - -\n';

function errorOf(text: string): ComposefsError {
  try {
    parseDump(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ComposefsError);
    return e as ComposefsError;
  }
  throw new Error('expected an error');
}

describe('composefs dump format', () => {
  it('parses fields, escapes, hard links and xattrs', () => {
    const tree = parseDump(
      ROOT +
        '/a\\x20b 3 100644 1 10 20 0 5.7 - x\\ty - user.k\\x3d=v\\x3d1 trusted.n=\\x00\\xff\n' +
        '/d 4096 40700 2 0 0 0 1.0 - - -\n' +
        '/d/f 100000 100755 2 0 0 0 1.0 ab/cd - ' +
        'ab'.repeat(32) +
        '\n' +
        '/d/h 0 @100644 0 0 0 0 0.0 /d/f - -\n' +
        '/s 0 120777 1 0 0 0 0.0 target - -\n' +
        '/c 0 20644 1 0 0 259 0.0 - - -\n',
    );
    const root = tree.root;
    const names = root.entries!.map((e) => Buffer.from(e.name).toString());
    expect(names).toEqual(['a b', 'c', 'd', 's']);
    const ab = root.entries![0]!.inode;
    expect(Buffer.from(ab.content!).toString()).toBe('x\ty');
    expect(ab.mtimeSec).toBe(5);
    expect(ab.mtimeNsec).toBe(7);
    expect(ab.uid).toBe(10);
    expect(ab.xattrs.map((x) => [Buffer.from(x.name).toString('latin1'), [...x.value]])).toEqual([
      ['trusted.n', [0, 255]],
      ['user.k=', [...Buffer.from('v=1')]],
    ]);
    const d = root.entries![2]!.inode;
    const [f, h] = d.entries!;
    expect(h!.hardlink).toBe(true);
    expect(h!.inode).toBe(f!.inode);
    expect(f!.inode.fsverityDigest).toHaveLength(32);
    expect(root.entries![3]!.inode.sizeBytes).toBe(6);
    expect(root.entries![1]!.inode.rdev).toBe(259);
    const text = encodeDump(tree);
    expect(text).toContain(
      '/a\\x20b 3 100644 1 10 20 0 5.7 - x\\ty - trusted.n=\\x00\\xff user.k\\x3d=v\\x3d1\n',
    );
    expect(text).toContain('/d/h 100000 @100755 2 0 0 0 1.0 /d/f - ' + 'ab'.repeat(32));
    expect(encodeDump(parseDump(text))).toBe(text);
  });

  it('escapes every awkward byte and round-trips', () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const root = newInode(0o40755);
    const name = Uint8Array.from([...bytes].filter((b) => b !== 0 && b !== 0x2f).slice(0, 255));
    const file = newInode(0o100644, { sizeBytes: 256, content: null, payload: utf8('-') });
    file.xattrs.push({ name: utf8('user.= \\\n'), value: bytes });
    const dash = newInode(0o100644, { sizeBytes: 1, content: utf8('-') });
    root.entries!.push(
      { name, inode: file, hardlink: false },
      { name: utf8('-'), inode: dash, hardlink: false },
    );
    const tree = validateTree(root);
    const text = encodeDump(tree);
    expect(text).toContain(' \\x2d ');
    const back = parseDump(text);
    expect(encodeDump(back)).toBe(text);
    expect(Buffer.compare(back.root.entries![0]!.name, name)).toBe(0);
    expect([...back.root.entries![0]!.inode.xattrs[0]!.value]).toEqual([...bytes]);
    expect(Buffer.from(back.root.entries![1]!.inode.content!).toString()).toBe('-');
    // and through an image
    const img = parseImage(encodeImage(tree)).tree;
    expect(encodeDump(validateTree(normalizeForImage(img)))).toBe(
      encodeDump(validateTree(normalizeForImage(tree))),
    );
  });

  it('writes the same bytes whatever the order entries and xattrs were given in', () => {
    const text =
      ROOT +
      '/b 0 100644 1 0 0 0 0.0 - - - user.z=1 user.a=2 security.selinux=x\n' +
      '/a 0 40755 2 0 0 0 0.0 - - - user.a=2\n' +
      '/a/c 5 100644 1 0 0 0 0.0 - hello - user.a=2\n' +
      '/-x 0 120777 1 0 0 0 0.0 /b - -\n';
    const want = encodeImage(parseDump(text));
    const t = parseDump(text);
    const stack = [t.root];
    while (stack.length) {
      const n = stack.pop()!;
      n.xattrs.reverse();
      n.entries?.reverse();
      for (const e of n.entries ?? []) stack.push(e.inode);
    }
    expect(Buffer.compare(encodeImage(validateTree(t.root)), want)).toBe(0);
    expect(Buffer.compare(encodeImage(parseDump(text)), want)).toBe(0);
  });

  it('accepts a missing final newline and repeated xattrs (last wins)', () => {
    const t = parseDump(ROOT + '/a 0 100644 1 0 0 0 0.0 - - - user.x=1 user.x=2');
    expect(Buffer.from(t.root.entries![0]!.inode.xattrs[0]!.value).toString()).toBe('2');
  });

  const bad: [string, string, RegExp][] = [
    ['no root', '/a 0 100644 1 0 0 0 0.0 - - -\n', /line 1: root node not present/],
    ['root not a dir', '/ 0 100644 1 0 0 0 0.0 - - -\n', /line 1: root must be a directory/],
    ['two roots', ROOT + ROOT, /line 2: can't have multiple roots/],
    ['bad mode', ROOT + '/a 0 1x 1 0 0 0 0.0 - - -\n', /line 2: invalid mode '1x'/],
    ['unknown type', ROOT + '/a 0 170644 1 0 0 0 0.0 - - -\n', /line 2: invalid mode 170644/],
    ['bad size', ROOT + '/a -1 100644 1 0 0 0 0.0 - - -\n', /line 2: invalid size/],
    ['bad mtime', ROOT + '/a 0 100644 1 0 0 0 17 - - -\n', /line 2: invalid mtime/],
    ['missing parent', ROOT + '/x/a 0 100644 1 0 0 0 0.0 - - -\n', /line 2: parent directory missing/],
    [
      'parent not dir',
      ROOT + '/x 0 100644 1 0 0 0 0.0 - - -\n/x/a 0 100644 1 0 0 0 0.0 - - -\n',
      /line 3: parent must be a directory/,
    ],
    [
      'duplicate',
      ROOT + '/a 0 100644 1 0 0 0 0.0 - - -\n/a 0 100644 1 0 0 0 0.0 - - -\n',
      /line 3: path \/a already exists/,
    ],
    ['dot name', ROOT + '/.. 0 100644 1 0 0 0 0.0 - - -\n', /line 2: invalid \. or \.\./],
    [
      'long name',
      ROOT + `/${'n'.repeat(256)} 0 100644 1 0 0 0 0.0 - - -\n`,
      /line 2: file name longer than 255/,
    ],
    ['bad escape', ROOT + '/a\\q 0 100644 1 0 0 0 0.0 - - -\n', /line 2: unsupported escape \\q/],
    ['short hex', ROOT + '/a\\x4 0 100644 1 0 0 0 0.0 - - -\n', /line 2: no hex characters/],
    ['bad hex', ROOT + '/a\\xzz 0 100644 1 0 0 0 0.0 - - -\n', /line 2: invalid hex/],
    [
      'content size',
      ROOT + '/a 2 100644 1 0 0 0 0.0 - abc -\n',
      /line 2: invalid content size 3, must match size 2/,
    ],
    ['xattr without =', ROOT + '/a 0 100644 1 0 0 0 0.0 - - - user.x\n', /line 2: missing = in xattr/],
    ['empty symlink', ROOT + '/a 0 120777 1 0 0 0 0.0 - - -\n', /line 2: invalid symlink/],
    ['bad digest', ROOT + '/a 9 100644 1 0 0 0 0.0 - - abc\n', /line 2: invalid fs-verity digest/],
    ['nul', ROOT + '/a 0 100644 1 0 0 0 0.0 - - -\0\n', /line 2: embedded NUL/],
    ['link to nothing', ROOT + '/a 0 @100644 1 0 0 0 0.0 /b - -\n', /line 2: no target at \/b/],
    [
      'dir link',
      ROOT + '/a 0 100644 1 0 0 0 0.0 - - -\n/b 0 @40755 1 0 0 0 0.0 /a - -\n',
      /line 3: directories can't be hard-linked/,
    ],
    ['self link', ROOT + '/a 0 @100644 1 0 0 0 0.0 /a - -\n', /line 2: self-referential hard link/],
    [
      'big content',
      ROOT + `/a 5001 100644 1 0 0 0 0.0 - ${'x'.repeat(5001)} -\n`,
      /line 2: inline content size 5001 exceeds/,
    ],
    [
      'huge xattrs',
      ROOT + `/a 0 100644 1 0 0 0 0.0 - - - user.a=${'v'.repeat(20000)} user.b=${'v'.repeat(20000)}\n`,
      /line 2: xattrs of this inode exceed 32767/,
    ],
  ];
  for (const [what, text, re] of bad)
    it(`rejects ${what} with a located E14`, () => {
      const e = errorOf(text);
      expect(e.code).toBe('E14');
      expect(e.message).toMatch(re);
    });
});
