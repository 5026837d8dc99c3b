// Snapshots the exported names of every barrel (STYLE.md: "tests/exports.test.ts snapshots each
// barrel"): src/kernel/index.ts, any src/<folder>/index.ts, and each subsystem's index.ts that exists.
// Each barrel has its own snapshot file under tests/__snapshots__/exports/, so a barrel that
// appears later adds a file (`npx vitest run tests/exports.test.ts -u` writes it; CI refuses a
// missing one) and a changed public surface shows up as a diff of that file in review.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const SUBSYSTEMS = ['atoms', 'extractors', 'composer', 'executor', 'scheduler', 'stacks', 'cache'];

function barrels(): string[] {
  const found: string[] = [];
  const dirBarrels = (dir: string): void => {
    const p = join(root, dir, 'index.ts');
    if (existsSync(p)) found.push(p);
    for (const d of readdirSync(join(root, dir)).sort()) {
      const q = join(root, dir, d, 'index.ts');
      if (statSync(join(root, dir, d)).isDirectory() && d !== 'kernel' && existsSync(q)) found.push(q);
    }
  };
  dirBarrels('src/kernel');
  dirBarrels('src');
  for (const s of SUBSYSTEMS) {
    const p = join(root, s, 'index.ts');
    if (existsSync(p)) found.push(p);
  }
  return found.map((p) => relative(root, p));
}

describe('exported names of each barrel', () => {
  it('finds the kernel barrel', () => {
    expect(barrels()).toContain('src/kernel/index.ts');
  });

  it.each(barrels())('%s', async (barrel) => {
    const mod = (await import(pathToFileURL(join(root, barrel)).href)) as Record<string, unknown>;
    const lines = Object.keys(mod)
      .sort()
      .map((name) => `${name}: ${typeof mod[name]}`);
    const file = join('__snapshots__', 'exports', barrel.replaceAll('/', '__') + '.txt');
    await expect(`# exports of ${barrel}\n${lines.join('\n')}\n`).toMatchFileSnapshot(file);
  });
});
