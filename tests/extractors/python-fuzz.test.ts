// Fuzz: random byte mutations of real Python sources, RECORD, METADATA and top_level.txt files
// (from this machine's pip installation) never crash the Python extractor and never take long:
// every case ends in a valid, canonical manifest. Seeded, so a failure names a reproducible case.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeCanonical } from '../../src/kernel/index.ts';
import {
  buildPythonManifest,
  parsePythonImports,
  parsePythonManifest,
  parseRecord,
} from '../../extractors/index.ts';
import { hostSitePackages } from './python-fixture.ts';

const sitePackages = hostSitePackages();
const suite = sitePackages === null ? describe.skip : describe;
if (sitePackages === null) console.warn('python3 with a site-packages directory is not available: skipping');

/** xorshift32: a small deterministic generator. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

/** Bytes that matter to the formats: quotes, separators, newlines, dots, NUL, non-ASCII. */
const INTERESTING = [
  0x22, 0x27, 0x2c, 0x3d, 0x0a, 0x0d, 0x2e, 0x00, 0x23, 0x28, 0x29, 0x3a, 0x5c, 0x20, 0x09, 0xff, 0xc3,
];

function mutate(input: Uint8Array, r: () => number): Uint8Array {
  let b = Uint8Array.from(input);
  const n = 1 + Math.floor(r() * 8);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(r() * (b.length + 1));
    switch (Math.floor(r() * 7)) {
      case 0: // flip a byte
        if (b.length) b[at % b.length] = Math.floor(r() * 256);
        break;
      case 1: // an interesting byte
        if (b.length) b[at % b.length] = INTERESTING[Math.floor(r() * INTERESTING.length)]!;
        break;
      case 2: // truncate
        b = b.subarray(0, at);
        break;
      case 3: {
        // insert random bytes
        const ins = Uint8Array.from({ length: 1 + Math.floor(r() * 16) }, () => Math.floor(r() * 256));
        b = Uint8Array.from([...b.subarray(0, at), ...ins, ...b.subarray(at)]);
        break;
      }
      case 4: {
        // duplicate a chunk (repeated lines, nested brackets)
        const len = Math.floor(r() * 200);
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at, at + len), ...b.subarray(at)]);
        break;
      }
      case 5: {
        // delete a chunk
        const len = Math.floor(r() * 64);
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + len)]);
        break;
      }
      default: {
        // a run of one interesting byte (deep nesting, long lines, many dots)
        const c = INTERESTING[Math.floor(r() * INTERESTING.length)]!;
        const ins = new Uint8Array(1 + Math.floor(r() * 4000)).fill(c);
        b = Uint8Array.from([...b.subarray(0, at), ...ins, ...b.subarray(at)]);
      }
    }
  }
  return b;
}

suite('Python extractor fuzz', () => {
  it('mutated sources, RECORD, METADATA and top_level.txt: a valid manifest every time, quickly', () => {
    const dist = readdirSync(sitePackages!).find((n) => /^pip-.*\.dist-info$/.test(n))!;
    const real = (p: string) => new Uint8Array(readFileSync(join(sitePackages!, p)));
    const sources = [
      'pip/_internal/cli/main.py',
      'pip/_internal/network/session.py',
      'pip/_internal/__init__.py',
      'pip/__init__.py',
    ];
    const base = new Map<string, Uint8Array>();
    for (const p of sources) base.set(p, real(p));
    for (const f of ['METADATA', 'RECORD', 'top_level.txt']) base.set(`${dist}/${f}`, real(`${dist}/${f}`));
    const targets = [...base.keys()];
    const r = rng(20261121);
    const cases = 1000;
    let slowestMs = 0;
    let withErrors = 0;
    for (let i = 0; i < cases; i++) {
      const target = targets[i % targets.length]!;
      // The distribution's files, one small source, and the mutated target.
      const files = new Map(targets.filter((t) => !t.endsWith('.py')).map((t) => [t, base.get(t)!]));
      files.set('pip/__init__.py', base.get('pip/__init__.py')!);
      files.set(target, mutate(base.get(target)!, r));
      const t0 = performance.now();
      let m;
      try {
        m = buildPythonManifest({ paths: [...files.keys()].sort(), read: (p) => files.get(p)! });
      } catch (e) {
        throw new Error(`case ${i} (${target}) threw: ${String(e)}`);
      }
      const ms = performance.now() - t0;
      slowestMs = Math.max(slowestMs, ms);
      expect(ms, `case ${i} (${target})`).toBeLessThan(5000);
      if (m.requires.files.some((f) => f.error !== null)) withErrors++;
      expect(parsePythonManifest(encodeCanonical(m))).toEqual(m);
    }
    // The mutations reached the error paths, not only the happy one.
    expect(withErrors).toBeGreaterThan(cases / 10);
    console.log(
      `${cases} cases, slowest ${slowestMs.toFixed(1)} ms, ${withErrors} with a located file error`,
    );
  });

  it('random bytes as a source file or a RECORD: no throw', () => {
    const r = rng(7);
    for (let i = 0; i < 2000; i++) {
      const b = Uint8Array.from({ length: Math.floor(r() * 300) }, () =>
        r() < 0.5 ? INTERESTING[Math.floor(r() * INTERESTING.length)]! : Math.floor(r() * 256),
      );
      const p = parsePythonImports(b);
      expect(Array.isArray(p.imports)).toBe(true);
      const rec = parseRecord(b);
      expect(rec.entries.length + rec.malformed.length).toBeGreaterThanOrEqual(0);
    }
  });
});
