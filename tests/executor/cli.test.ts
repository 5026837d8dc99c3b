/**
 * `eos seed` and `eos build-atom` end to end through bin/eos.mjs, on the cached host seed
 * (offline): verify a seed lock, build an atom directory from its atom.toml, and fail a
 * mismatching source with E13 naming both digests.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { digestBytes } from '../../src/kernel/index.ts';
import { hostSeedWorld, testCacheDir } from './helpers.ts';

const repo = join(import.meta.dirname, '..', '..');
const canRun = existsSync('/usr/bin/bwrap') && process.getuid?.() === 0;
let tmp = '';
let lock = '';
let storeDir = '';

function eos(args: string[]) {
  const r = spawnSync(process.execPath, [join(repo, 'bin/eos.mjs'), '--store', storeDir, ...args], {
    encoding: 'utf8',
    cwd: tmp,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  if (!canRun) return;
  const w = await hostSeedWorld();
  storeDir = w.store.root;
  tmp = mkdtempSync(join(tmpdir(), 'eos-cli-'));
  lock = join(tmp, 'seed.lock');
  copyFileSync(join(testCacheDir(), 'seed-host.lock'), lock);
});

describe.skipIf(!canRun)('eos seed / eos build-atom (offline; root, bwrap)', () => {
  it('eos seed verifies a stored seed offline and prints its root', () => {
    const r = eos(['seed', '--lock', lock]);
    expect(r.stderr).toMatch(/seed host: \d+ packages, 0 trees made/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok\tgcc-12\t\S+\tblake3:[0-9a-f]{64}$/m);
    expect(r.stdout).toMatch(/^root\tblake3:[0-9a-f]{64}$/m);
    expect(eos(['seed', 'frobnicate', '--lock', lock]).code).toBe(2);
  });

  it('eos build-atom builds a directory with atom.toml', () => {
    const atom = join(tmp, 'hello');
    mkdirSync(atom);
    writeFileSync(
      join(atom, 'atom.toml'),
      '[atom]\nlabel = "hello"\nversion = "1.0.0"\n\n[build]\nrecipe = "std.shell"\nscript = "mkdir -p $OUTPUT/usr/share && echo $GREETING > $OUTPUT/usr/share/hello.txt"\nenv = { GREETING = "hi" }\n',
    );
    const r = eos(['build-atom', atom, '--seed-lock', lock, '--json']);
    expect(r.stderr).toMatch(/^built hello in \d+ ms; world blake3:[0-9a-f]{64}; log /);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      version: number;
      output: string;
      record: { details: { label: string; recipe: { name: string } } };
    };
    expect(doc.version).toBe(1);
    expect(doc.record.details.label).toBe('hello');
    expect(doc.record.details.recipe.name).toBe('std.shell');
    const out = join(tmp, 'hello-out');
    expect(eos(['store', 'export', doc.output, out]).code).toBe(0);
    expect(readFileSync(join(out, 'usr/share/hello.txt'), 'utf8')).toBe('hi\n');
  });

  it('a source whose bytes do not match its pin fails with E13, both digests, exit 1', () => {
    const f = join(tmp, 'upstream.tar');
    writeFileSync(f, 'release bytes');
    const pin = digestBytes('other bytes');
    const src = JSON.stringify({ kind: 'path', path: f, digest: pin });
    const r = eos(['build-atom', tmp, '--seed-lock', lock, '--recipe', 'std.binary', '--source', src]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `[E13] fixed-output hash mismatch for path ${f}: expected ${pin}, got ${digestBytes('release bytes')}`,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
