import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as kernel from '../src/kernel/index.ts';
import { EosError } from '../src/kernel/index.ts';

const root = join(import.meta.dirname, '..');
/**
 * The subsystem that raises each code which the kernel does not raise itself. Until that
 * subsystem's index.ts exists the code may go unraised; once it exists, the code must be raised.
 */
const OWNER: Record<string, string> = {
  E7: 'scheduler',
  E13: 'executor',
  E14: 'composer',
  E15: 'extractors',
  E16: 'atoms',
  E17: 'atoms',
  E18: 'composer',
  E19: 'atoms',
  E20: 'atoms',
  E21: 'executor',
  E22: 'executor',
  E23: 'composer',
  E24: 'executor',
  E30: 'composer',
  E31: 'composer',
  E32: 'composer',
  E33: 'stacks',
  E34: 'stacks',
  E35: 'stacks',
  E36: 'stacks',
  E37: 'stacks',
  E38: 'stacks',
  E39: 'scheduler',
  E58: 'cache',
  E59: 'cache',
  E60: 'cache',
  E61: 'cache',
};
const landed = (code: string) => {
  const owner = OWNER[code];
  return owner === undefined || existsSync(join(root, owner, 'index.ts'));
};

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

  it('every code is raised somewhere outside tests once its subsystem has landed', () => {
    const text = sources(root)
      .map((p) => readFileSync(p, 'utf8'))
      .join('\n');
    for (const c of errorClasses()) {
      const raised = text.includes(`new ${c.name}(`);
      if (landed(c.code)) expect(raised, `${c.name} (${c.code}) is never raised`).toBe(true);
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
