import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/build.ts';

describe('eos build: located errors before any build', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eos-build-cli-'));
  const store = join(dir, 'store');

  it('a bad --jobs is a usage error (E1, exit 2)', async () => {
    await expect(run({ store, json: false, jobs: 'x' })).rejects.toMatchObject({
      message: '[E1] --jobs: "x" is not a positive whole number',
      exitCode: 2,
    });
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
