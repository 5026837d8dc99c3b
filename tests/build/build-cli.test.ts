import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/build.ts';
import { run as runBuildAtom } from '../../src/cli/build-atom.ts';

describe('eos build: located errors before any build', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eos-build-cli-'));
  const store = join(dir, 'store');

  it('a bad --jobs is a usage error (E1, exit 2)', async () => {
    await expect(run({ store, json: false, jobs: 'x' })).rejects.toMatchObject({
      message: '[E1] --jobs: "x" is not a positive whole number',
      exitCode: 2,
    });
  });

  it('a bad --timeout is a usage error before anything runs (it once became NaN: every build timed out)', async () => {
    for (const timeout of ['abc', '0', '-5', '1e3x', ''])
      await expect(run({ store, json: false, jobs: '1', timeout })).rejects.toMatchObject({
        message: `[E1] --timeout: ${JSON.stringify(timeout)} is not a positive number of seconds`,
        exitCode: 2,
      });
  });

  it('eos build-atom checks --jobs and --timeout the same way', async () => {
    await expect(runBuildAtom({ store, json: false, path: dir, jobs: 'x' })).rejects.toMatchObject({
      message: '[E1] --jobs: "x" is not a positive whole number',
      exitCode: 2,
    });
    await expect(runBuildAtom({ store, json: false, path: dir, jobs: '0' })).rejects.toThrow(
      /^\[E1\] --jobs/,
    );
    await expect(runBuildAtom({ store, json: false, path: dir, timeout: 'soon' })).rejects.toThrow(
      '[E1] --timeout: "soon" is not a positive number of seconds',
    );
  });

  it('a missing or malformed lock is E19; a missing seed lock is E24', async () => {
    await expect(run({ store, json: false, lock: join(dir, 'nope.lock') })).rejects.toThrow(
      `[E19] ${join(dir, 'nope.lock')}: cannot read the lock (ENOENT)`,
    );
    writeFileSync(join(dir, 'eos.lock'), 'version = 7\n');
    await expect(run({ store, json: false, lock: join(dir, 'eos.lock') })).rejects.toThrow(/^\[E19\] /);
    mkdirSync(join(dir, 'a'));
    writeFileSync(
      join(dir, 'a', 'atom.toml'),
      '[atom]\nlabel = "a"\nversion = "1.0.0"\n[build]\nrecipe = "std.make"\n',
    );
    writeFileSync(
      join(dir, 'eos.lock'),
      'version = 1\n\n[workspace.a]\npath = "a"\nversion = "1.0.0"\ndeps = []\n',
    );
    await expect(run({ store, json: false, lock: join(dir, 'eos.lock') })).rejects.toThrow(
      `[E24] ${join(dir, 'seed.lock')}: no seed lock here`,
    );
  });
});
