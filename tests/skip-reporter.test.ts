/**
 * tests/skip-reporter.ts through a real vitest run of tests/fixtures/skip: under CI=true the two
 * skipped tests (a skipIf and a todo) fail the run and are named; without CI they are listed and
 * the run passes; the allow-list lookup matches on file and full name.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers/fs.ts';
import { unlistedSkips } from './skip-reporter.ts';
import { SKIP_ALLOWLIST } from './skip-allowlist.ts';

function vitest(env: NodeJS.ProcessEnv): { code: number | null; out: string } {
  const r = spawnSync(
    process.execPath,
    [
      join(repoRoot, 'node_modules/vitest/vitest.mjs'),
      'run',
      '--config',
      'tests/fixtures/skip/vitest.config.ts',
    ],
    { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, ...env } },
  );
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('skips under CI', () => {
  it('CI=true: an unlisted skip fails the run and is named', () => {
    const r = vitest({ CI: 'true' });
    expect(r.out).toContain('skipped tests (2; 0 on tests/skip-allowlist.ts)');
    expect(r.out).toMatch(
      /SKIP\ttests\/fixtures\/skip\/skips\.fixture\.ts\ta suite > needs a tool this machine lacks/,
    );
    expect(r.out).toMatch(/SKIP\ttests\/fixtures\/skip\/skips\.fixture\.ts\ta suite > is not written yet/);
    expect(r.out).toContain('CI=true: 2 test(s) skipped without an entry in tests/skip-allowlist.ts');
    expect(r.code).toBe(1);
  });

  it('without CI: listed, and the run passes', () => {
    const r = vitest({ CI: '' });
    expect(r.out).toContain('skipped tests (2; 0 on tests/skip-allowlist.ts)');
    expect(r.out).not.toContain('CI=true:');
    expect(r.code).toBe(0);
  });

  it('the allow-list matches file and full name; every entry has a reason', () => {
    for (const a of SKIP_ALLOWLIST) expect(a.reason.length).toBeGreaterThan(10);
    const s = { file: 'tests/x.test.ts', test: 'a > b' };
    expect(unlistedSkips([s])).toEqual(
      SKIP_ALLOWLIST.some((a) => a.file === s.file && a.test === s.test) ? [] : [s],
    );
  });
});
