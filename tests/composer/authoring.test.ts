import { describe, expect, it } from 'vitest';
import { CompositionError, digestBytes } from '../../src/kernel/index.ts';
import { parseCompositionToml } from '../../composer/index.ts';

const T = digestBytes('tree');
const F = digestBytes('file');

function err(text: string): CompositionError {
  try {
    parseCompositionToml(text, 'w.toml');
  } catch (e) {
    expect(e).toBeInstanceOf(CompositionError);
    return e as CompositionError;
  }
  throw new Error('expected a CompositionError');
}

describe('composition TOML (specs/composition.md §9)', () => {
  it('parses every source kind and the precedence order', () => {
    const a = parseCompositionToml(
      [
        '# a world',
        '[entries.base]',
        'at = "/"',
        `tree = "${T}"`,
        '',
        '[entries.dash]',
        'at = "/usr/bin/dash"',
        'path = "./dash"',
        '',
        '[entries.sh]',
        'at = "/usr/bin/sh"',
        'symlink = "dash"',
        '',
        '[entries.tool]',
        'at = "/opt/tool"',
        `file = "${F}"`,
        'executable = true',
        '',
        '[precedence]',
        'order = ["dash", "base"]',
      ].join('\n'),
    );
    expect(a.precedence).toEqual(['dash', 'base']);
    expect(a.entries).toEqual([
      { name: 'base', at: '/', source: { kind: 'node', node: { kind: 'tree', digest: T } }, line: 2 },
      { name: 'dash', at: '/usr/bin/dash', source: { kind: 'path', path: './dash' }, line: 6 },
      {
        name: 'sh',
        at: '/usr/bin/sh',
        source: { kind: 'node', node: { kind: 'symlink', target: 'dash' } },
        line: 10,
      },
      {
        name: 'tool',
        at: '/opt/tool',
        source: { kind: 'node', node: { kind: 'file', digest: F, executable: true } },
        line: 14,
      },
    ]);
  });

  it('an entry defined twice is E18 naming it and both lines', () => {
    const e = err(`[entries.libc]\nat = "/"\ntree = "${T}"\n\n[entries.libc]\nat = "/x"\ntree = "${T}"\n`);
    expect(e.message).toBe('[E18] w.toml:5: entry libc is defined twice (first at line 1)');
    expect(e.data).toMatchObject({ name: 'libc', line: 5 });
  });

  const cases: [string, string, string][] = [
    ['syntax', '[entries.a]\nat = /\n', '[E18] w.toml:2: column 6: invalid value'],
    [
      'relative prefix',
      `[entries.a]\ntree = "${T}"\nat = "usr"\n`,
      '[E18] w.toml:3: entries.a.at: prefix "usr" is not absolute',
    ],
    [
      '.. prefix',
      `[entries.a]\nat = "/usr/../x"\ntree = "${T}"\n`,
      '[E18] w.toml:2: entries.a.at: prefix "/usr/../x" has a ".." component',
    ],
    [
      'bad name',
      `[entries.Libc]\nat = "/"\ntree = "${T}"\n`,
      '[E18] w.toml:1: entries: entry name "Libc" is not allowed',
    ],
    [
      'no source',
      '[entries.a]\nat = "/"\n',
      '[E18] w.toml:1: entries.a: give exactly one of tree, file, symlink, path (found none)',
    ],
    [
      'two sources',
      `[entries.a]\nat = "/"\ntree = "${T}"\npath = "x"\n`,
      '[E18] w.toml:1: entries.a: give exactly one of tree, file, symlink, path (found tree, path)',
    ],
    [
      'bad digest',
      '[entries.a]\nat = "/"\n\ntree = "blake3:XY"\n',
      '[E18] w.toml:4: entries.a.tree: "blake3:XY" is not a digest',
    ],
    [
      'unknown key',
      `[entries.a]\nat = "/"\ntree = "${T}"\nmode = 1\n`,
      '[E18] w.toml:4: entries.a: unknown key "mode"',
    ],
    ['missing at', `[entries.a]\ntree = "${T}"\n`, '[E18] w.toml:1: entries.a: missing "at"'],
    [
      'symlink at /',
      '[entries.a]\nat = "/"\nsymlink = "x"\n',
      '[E18] w.toml:2: entries.a: a symlink cannot be bound at "/"',
    ],
    [
      'executable on a tree',
      `[entries.a]\nat = "/"\ntree = "${T}"\nexecutable = true\n`,
      '[E18] w.toml:4: entries.a.executable: only a "file" entry',
    ],
    [
      'unknown precedence entry',
      `[entries.a]\nat = "/"\ntree = "${T}"\n[precedence]\norder = ["a", "b"]\n`,
      '[E18] w.toml:5: precedence.order: "b" is not an entry of this file',
    ],
    [
      'repeated precedence entry',
      `[entries.a]\nat = "/"\ntree = "${T}"\n[precedence]\norder = ["a", "a"]\n`,
      '[E18] w.toml:5: precedence.order: a is listed twice',
    ],
    ['unknown table', `[entry.a]\nat = "/"\n`, '[E18] w.toml:1: unknown table or key "entry"'],
  ];
  for (const [what, text, msg] of cases)
    it(`${what}: located E18`, () => {
      expect(err(text).message.startsWith(msg)).toBe(true);
    });
});
