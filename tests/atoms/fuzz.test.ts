// Random input never crashes the parsers: it parses or raises the format's own E-code, and the
// TOML line scanner terminates on anything (it also runs on text that did not parse).
import { describe, expect, it } from 'vitest';
import { LockError, ManifestError, AtomError } from '../../src/kernel/index.ts';
import { parseClaim, parseLock, parseManifest, parsePublish } from '../../atoms/index.ts';
import { locateToml } from '../../src/kernel/index.ts';

let seed = 99;
function rnd(n: number): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return Math.floor((seed / 2 ** 31) * n);
}
const ALPHABET = [
  '[',
  ']',
  '[[',
  ']]',
  '=',
  '"',
  "'",
  '"""',
  "'''",
  '\n',
  ' ',
  '#',
  ',',
  '{',
  '}',
  '.',
  'a',
  'deps',
  'atom',
  'label',
  'version',
  '1.0.0',
  '^1',
  '\\',
  'x',
  'é',
  '\t',
  'source',
  'kind',
];
function randomText(): string {
  let s = '';
  const n = rnd(60);
  for (let i = 0; i < n; i++) s += ALPHABET[rnd(ALPHABET.length)];
  return s;
}
/** A valid manifest with one random edit (delete, duplicate or replace a slice). */
function mutated(base: string): string {
  const i = rnd(base.length);
  const j = i + rnd(20);
  switch (rnd(3)) {
    case 0:
      return base.slice(0, i) + base.slice(j);
    case 1:
      return base.slice(0, j) + base.slice(i, j) + base.slice(j);
    default:
      return base.slice(0, i) + randomText() + base.slice(j);
  }
}

const MANIFEST = `[atom]\nlabel = "curl"\nversion = "7.88.1"\n\n[deps]\nzlib = "^1.2"\nopenssl = { range = "^3" }\n\n[build]\nrecipe = "std.autotools"\nconfigure-flags = ["--a", "--b"]\n\n[[source]]\nkind = "deb"\npackage = "curl"\nversion = "1"\ndigest = "blake3:${'0'.repeat(64)}"\n`;

describe('fuzz', () => {
  it('parseManifest: parses or raises E16, on 3000 random and mutated inputs', () => {
    let ok = 0;
    for (let k = 0; k < 3000; k++) {
      const text = k % 2 ? randomText() : mutated(MANIFEST);
      try {
        parseManifest(text);
        ok++;
      } catch (e) {
        if (!(e instanceof ManifestError)) throw new Error(`${JSON.stringify(text)}: ${String(e)}`);
      }
      // The scanner terminates on any text and returns lines within the text.
      const lines = text.split('\n').length;
      const l = locateToml(text).lineOf(['deps', 'zlib']);
      expect(l === undefined || (l >= 1 && l <= lines)).toBe(true);
    }
    expect(ok).toBeGreaterThan(10);
  });

  it('parseLock and record parsers: parse or raise their E-code', () => {
    for (let k = 0; k < 2000; k++) {
      const text = randomText();
      try {
        parseLock(text);
      } catch (e) {
        if (!(e instanceof LockError)) throw new Error(`${JSON.stringify(text)}: ${String(e)}`);
      }
      const bytes = new TextEncoder().encode(text);
      for (const parse of [parseClaim, parsePublish])
        try {
          parse(bytes);
        } catch (e) {
          if (!(e instanceof AtomError)) throw new Error(`${JSON.stringify(text)}: ${String(e)}`);
        }
    }
  });
});
