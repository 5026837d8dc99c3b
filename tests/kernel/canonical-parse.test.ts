/**
 * parseCanonical's fast acceptance (JSON.stringify of a value whose keys are already in canonical
 * order and whose numbers are safe integers) must accept exactly what the full re-encoding accepts.
 */
import { describe, expect, it } from 'vitest';
import { encodeCanonical, parseCanonical } from '../../src/kernel/index.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('parseCanonical', () => {
  it('accepts canonical text, including integer-like keys in code-unit order', () => {
    for (const v of [
      { a: 1, b: [true, null, 'x\u2028y'], c: { d: -3 } },
      { '10': 1, '9': 2 }, // canonical order "10" < "9"; JSON.parse puts 9 first
      { __proto__x: 1, a: '\ud800' },
      [],
      'é',
    ]) {
      const b = encodeCanonical(v);
      expect(parseCanonical(b)).toEqual(v);
    }
  });

  it('rejects what is not canonical, whichever check sees it', () => {
    const notCanonical = '[E3] t: JSON is not in canonical (RFC 8785) form';
    for (const [text, msg] of [
      ['{"b":1,"a":2}', notCanonical],
      ['{"9":1,"10":2}', notCanonical],
      ['{"a":1,"a":1}', notCanonical],
      ['{"a": 1}', notCanonical],
      ['-0', notCanonical],
      ['1e400', 'is not a safe integer'],
      ['0.5', '0.5 is not a safe integer'],
      ['9007199254740993', 'is not a safe integer'],
    ] as const)
      expect(() => parseCanonical(bytes(text), 't'), text).toThrow(msg);
  });

  it('still bounds the nesting depth', () => {
    expect(() => parseCanonical(bytes('['.repeat(65) + ']'.repeat(65)), 't')).toThrow('[E47]');
    expect(parseCanonical(bytes('['.repeat(64) + ']'.repeat(64)), 't')).toBeDefined();
  });
});
