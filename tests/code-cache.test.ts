/**
 * The compiled CLI runs from V8's code cache (specs/cli.md §1.7, bin/bundle-run.mjs): the first run
 * of a Node with these flags finds no cache, compiles the bundle and writes one at exit; the next
 * uses it; a damaged cache of the same length is rejected by V8, the command still runs the same,
 * and a good cache replaces it. The cache file's name changes with the bundle file's times and
 * inode and with Node's flags, so a rebuilt bundle of the same length never meets an old cache.
 * A flag no other test passes (`--stack-size=1999`) gives this file its own cache.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { codeCachePath } from '../bin/bundle-run.mjs';
import { eosBin, repoRoot } from './helpers/fs.ts';

const FLAG = '--stack-size=1999';
const bundle = join(repoRoot, 'dist', 'bundle', 'main.cjs');

function eos(): { code: number | null; stdout: string; note: string } {
  const r = spawnSync(process.execPath, [FLAG, eosBin, '--help'], {
    encoding: 'utf8',
    env: { ...process.env, EOS_DEBUG_CODE_CACHE: '1', NODE_OPTIONS: '' },
  });
  const note = r.stderr.split('\n').find((l) => l.startsWith('eos: code cache ')) ?? r.stderr;
  return { code: r.status, stdout: r.stdout, note };
}

/** The cache this test's runs use, read from what eos says (its key hashes their execArgv). */
function cacheOf(note: string): string {
  const m = /^eos: code cache (\S+): /.exec(note);
  expect(m, note).not.toBeNull();
  return m![1]!;
}

let cache = '';
afterAll(() => {
  if (cache) rmSync(cache, { force: true });
});

describe('the bundle runs from V8 code cache', () => {
  it('none → written at exit → used; a damaged one is rejected, the command runs the same, and is replaced', () => {
    const first = eos();
    cache = cacheOf(first.note);
    rmSync(cache, { force: true });
    const cold = eos();
    expect(cold.code).toBe(0);
    expect(cold.note).toBe(`eos: code cache ${cache}: none`);
    expect(cold.stdout).toContain('Usage: eos');
    expect(statSync(cache).size).toBeGreaterThan(100_000);
    const warm = eos();
    expect(warm.note).toBe(`eos: code cache ${cache}: used`);
    expect(warm.code).toBe(0);
    expect(warm.stdout).toBe(cold.stdout);
    // Same length, other bytes: V8's checks reject it; the source is compiled, and a new cache written.
    const size = statSync(cache).size;
    const junk = Buffer.alloc(size, 0x5a);
    writeFileSync(cache, junk);
    const damaged = eos();
    expect(damaged.note).toBe(`eos: code cache ${cache}: rejected`);
    expect(damaged.code).toBe(0);
    expect(damaged.stdout).toBe(cold.stdout);
    expect(readFileSync(cache).equals(junk)).toBe(false);
    expect(eos().note).toBe(`eos: code cache ${cache}: used`);
    expect(existsSync(`${cache}.tmp-${process.pid}`)).toBe(false);
  });

  it('the cache name changes with the bundle file (times, inode) and with Node', () => {
    const st = statSync(bundle);
    const base = codeCachePath(bundle, st);
    expect(base.startsWith(`${bundle}.`) && base.endsWith('.v8cache')).toBe(true);
    expect(codeCachePath(bundle, { ...st, mtimeMs: st.mtimeMs + 1 })).not.toBe(base);
    expect(codeCachePath(bundle, { ...st, ctimeMs: st.ctimeMs + 1 })).not.toBe(base);
    expect(codeCachePath(bundle, { ...st, ino: st.ino + 1 })).not.toBe(base);
    expect(codeCachePath(bundle, { ...st, size: st.size + 1 })).not.toBe(base);
    expect(
      codeCachePath(bundle, { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino }),
    ).toBe(base);
  });
});
