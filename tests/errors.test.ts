import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as kernel from '../src/index.ts';
import { EosError } from '../src/index.ts';

const root = join(import.meta.dirname, '..');
/** Codes whose subsystem has not landed yet; each must leave this list when it does. */
const NOT_YET_RAISED = new Set([
  // E5, E6, E8, E12: raised by the store (branch `store`); drop them when it is merged.
  'E5',
  'E6',
  'E8',
  'E12',
  'E7',
  'E13',
  'E14',
  'E15',
  'E16',
  'E17',
  'E19',
  'E20',
  'E21',
  'E22',
  'E24',
]);

function errorClasses(): (typeof EosError)[] {
  return Object.values(kernel).filter(
    (v): v is typeof EosError => typeof v === 'function' && v.prototype instanceof EosError,
  );
}

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'tests' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('errors', () => {
  it('every class has a unique code, listed in specs/errors.md with its class and exit status', () => {
    const table = readFileSync(join(root, 'specs/errors.md'), 'utf8');
    const rows = new Map<string, { cls: string; exit: number }>();
    for (const m of table.matchAll(/^\| (E\d+) \| (\w+) \| [^|]+ \| (\d+) \|/gm))
      rows.set(m[1]!, { cls: m[2]!, exit: Number(m[3]) });
    const classes = errorClasses();
    const codes = classes.map((c) => c.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of classes) {
      expect(rows.get(c.code), `${c.code} in specs/errors.md`).toEqual({ cls: c.name, exit: c.exitCode });
    }
    expect([...rows.keys()].sort()).toEqual([...codes].sort());
  });

  it('every code is raised somewhere outside tests (or is listed as not yet landed)', () => {
    const text = sources(root)
      .map((p) => readFileSync(p, 'utf8'))
      .join('\n');
    for (const c of errorClasses()) {
      const raised = text.includes(`new ${c.name}(`);
      if (NOT_YET_RAISED.has(c.code))
        expect(raised, `${c.code} is raised now: drop it from NOT_YET_RAISED`).toBe(false);
      else expect(raised, `${c.name} (${c.code}) is never raised`).toBe(true);
    }
  });

  it('messages lead with the code; toJSON carries data and hint', () => {
    const e = new kernel.NotFoundError('blob blake3:00 is not in the store', {
      data: { x: 1 },
      hint: 'run eos store add',
    });
    expect(e.message).toBe('[E4] blob blake3:00 is not in the store');
    expect(e.code).toBe('E4');
    expect(e.exitCode).toBe(1);
    expect(e.toJSON()).toEqual({ code: 'E4', message: e.message, data: { x: 1 }, hint: 'run eos store add' });
    expect(new kernel.UsageError('x').exitCode).toBe(2);
    expect(new kernel.BuildFailedError('x').exitCode).toBe(3);
  });
});
