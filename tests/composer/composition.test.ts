/* eslint-disable @typescript-eslint/no-explicit-any -- the rejection table mutates loosely typed copies of the vector */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CompositionError, EncodingError, digestBytes, encodeCanonical } from '../../src/kernel/index.ts';
import {
  exactEntry,
  type CompositionEntry,
  compositionRoot,
  encodeComposition,
  makeComposition,
  parseComposition,
} from '../../composer/index.ts';

const repoRoot = join(import.meta.dirname, '..', '..');

function vector(): unknown {
  const base = digestBytes('eos composition vector: base tree');
  const dash = digestBytes('eos composition vector: dash');
  return {
    version: 1,
    entries: {
      sh: {
        at: '/usr/bin/sh',
        node: { kind: 'symlink', target: 'dash' },
        constraint: { kind: 'exact', digest: digestBytes('dash') },
      },
      dash: {
        at: '/usr/bin/dash',
        node: { kind: 'file', digest: dash, executable: true },
        constraint: { kind: 'exact', digest: dash },
      },
      base: { at: '/', node: { kind: 'tree', digest: base }, constraint: { kind: 'exact', digest: base } },
    },
    precedence: ['dash', 'base'],
  };
}

describe('composition object (specs/composition.md)', () => {
  it('§7.1 vector: exact bytes and root, as written in the spec', () => {
    const c = makeComposition(vector());
    const spec = readFileSync(join(repoRoot, 'specs', 'composition.md'), 'utf8');
    const bytes = new TextDecoder().decode(encodeComposition(c));
    expect(spec).toContain('\n' + bytes + '\n');
    expect(compositionRoot(c)).toBe(
      'blake3:3bc21b0c92aace52da9ba33b8f8e532cc56b114d2c9cf269808829f9b363dd52',
    );
    expect(spec).toContain(compositionRoot(c));
    expect(compositionRoot(c)).toBe(digestBytes(encodeComposition(c)));
  });

  it('round-trips through its canonical bytes and rejects non-canonical bytes', () => {
    const c = makeComposition(vector());
    expect(parseComposition(encodeComposition(c))).toEqual(c);
    const spaced = new TextEncoder().encode(JSON.stringify(c, null, 1));
    expect(() => parseComposition(spaced)).toThrow(EncodingError);
  });

  it('precedence order is part of the root', () => {
    const v = vector() as { precedence: string[] };
    const a = compositionRoot(makeComposition(v));
    v.precedence = ['base', 'dash'];
    expect(compositionRoot(makeComposition(v))).not.toBe(a);
  });

  const bad: [string, (v: Record<string, any>) => void, RegExp][] = [
    ['version 3', (v) => (v.version = 3), /version: 3 is not a supported version \(1, 2\)/],
    [
      'version 2 without a swapped entry',
      (v) => (v.version = 2),
      /version: 2 is only for a composition with a satisfies or override constraint/,
    ],
    ['unknown field', (v) => (v.extra = 1), /unknown field "extra"/],
    ['bad entry name', (v) => (v.entries['Bad Name'] = v.entries.sh), /entry name "Bad Name" is not allowed/],
    [
      'relative prefix',
      (v) => (v.entries.sh.at = 'usr/bin/sh'),
      /entries.sh.at: prefix "usr\/bin\/sh" is not absolute/,
    ],
    ['.. in prefix', (v) => (v.entries.sh.at = '/usr/../etc'), /has a "\.\." component/],
    ['trailing slash', (v) => (v.entries.sh.at = '/usr/'), /ends with "\/"/],
    ['double slash', (v) => (v.entries.sh.at = '/usr//bin'), /empty component/],
    ['file at /', (v) => (v.entries.dash.at = '/'), /entries.dash: a file cannot be bound at "\/"/],
    [
      'constraint mismatch',
      (v) => (v.entries.dash.constraint.digest = digestBytes('x')),
      /exact constraint pins/,
    ],
    [
      'unknown constraint kind',
      (v) => (v.entries.dash.constraint.kind = 'interface'),
      /"interface" is not a constraint kind/,
    ],
    ['bad node kind', (v) => (v.entries.dash.node.kind = 'socket'), /"socket" is not one of/],
    ['bad digest', (v) => (v.entries.base.node.digest = 'sha256:00'), /is not a digest/],
    ['missing executable', (v) => delete v.entries.dash.node.executable, /missing field "executable"/],
    ['precedence unknown', (v) => v.precedence.push('nope'), /"nope" is not an entry/],
    ['precedence twice', (v) => v.precedence.push('dash'), /dash is listed twice/],
  ];
  for (const [what, mutate, re] of bad)
    it(`rejects ${what} with E18`, () => {
      const v = vector() as Record<string, any>;
      mutate(v);
      let err: unknown;
      try {
        makeComposition(v);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CompositionError);
      expect((err as Error).message).toMatch(/^\[E18\] /);
      expect((err as Error).message).toMatch(re);
    });

  it('exactEntry builds the same entries as written by hand', () => {
    const v = vector() as { entries: Record<string, CompositionEntry> };
    const built = Object.fromEntries(
      Object.entries(v.entries).map(([n, e]) => [n, exactEntry(e.at, e.node)]),
    );
    expect(compositionRoot(makeComposition({ ...v, entries: built }))).toBe(
      compositionRoot(makeComposition(vector())),
    );
  });

  it('canonical bytes do not depend on key order', () => {
    const v = vector() as Record<string, any>;
    const reordered = {
      precedence: v.precedence,
      entries: { base: v.entries.base, dash: v.entries.dash, sh: v.entries.sh },
      version: 1,
    };
    expect(encodeCanonical(makeComposition(reordered))).toEqual(encodeComposition(makeComposition(v)));
  });
});
