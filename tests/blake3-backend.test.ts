/**
 * BLAKE3 never ends in an internal error (src/kernel/digest.ts): a copy of the checkout whose
 * node_modules lacks the compiled native binding (as after an `npm ci` where the optional
 * `@c4312/blake3-native` failed to compile) hashes with the WebAssembly build — the same digests,
 * through the ingest worker pool too — and warns once; with the WebAssembly build gone as well,
 * `eos` fails with the named error E25 and a hint, not a stack. The real loader resolves both from
 * the `blake3` package's directory, so the copy only has to leave the files out.
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { distState } from '../bin/dist-state.mjs';
import { Store, digestBytes, hashBackend } from '../src/kernel/index.ts';
import { repoRoot, tempDir } from './helpers/fs.ts';

let copy = '';
let input = '';

/** Mirrors node_modules into `dst`: symlinks, except the packages in `own`, which are copied. */
function mirrorModules(src: string, dst: string, own: Set<string>, scope = ''): void {
  mkdirSync(dst, { recursive: true });
  for (const name of readdirSync(src)) {
    const id = scope ? `${scope}/${name}` : name;
    if (name.startsWith('@') && !scope) mirrorModules(join(src, name), join(dst, name), own, name);
    else if (own.has(id)) cpSync(join(src, name), join(dst, name), { recursive: true });
    else symlinkSync(join(src, name), join(dst, name));
  }
}

function eos(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(copy, 'bin', 'eos.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, EOS_STORE: join(copy, '.store'), EOS_CONFIG_DIR: join(copy, '.config') },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  copy = tempDir('eos-blake3-');
  for (const name of readdirSync(repoRoot))
    if (!['node_modules', '.git', 'tests', '.eos-demo'].includes(name))
      cpSync(join(repoRoot, name), join(copy, name), { recursive: true });
  // The copy's sources are newer files than its dist/, but the same as the checkout's, whose dist/
  // the global setup made current: mark the copy's build as of its newest listed time, modification
  // or status change (specs/cli.md §1.2). Not `Date.now()`: a file's mtime has sub-millisecond precision, so a path
  // copied in the same millisecond is "newer" than a whole-millisecond clock reading.
  const manifest = join(copy, 'dist', '.eos-build.json');
  const built = JSON.parse(readFileSync(manifest, 'utf8')) as { paths: string[] };
  let newest = Date.now();
  for (const p of built.paths) {
    const st = statSync(join(copy, p), { throwIfNoEntry: false });
    if (st) newest = Math.max(newest, st.mtimeMs, st.ctimeMs);
  }
  writeFileSync(manifest, JSON.stringify({ ...built, builtAtMs: Math.ceil(newest) + 1 }));
  expect(distState(copy)).toMatchObject({ fresh: true });
  mirrorModules(
    join(repoRoot, 'node_modules'),
    join(copy, 'node_modules'),
    new Set(['blake3', '@c4312/blake3-native']),
  );
  // The binding failed to compile: its package is there, its build/ is not.
  rmSync(join(copy, 'node_modules', '@c4312', 'blake3-native', 'build'), { recursive: true, force: true });
  input = tempDir('eos-blake3-in-');
  writeFileSync(join(input, 'a.txt'), 'abc');
  mkdirSync(join(input, 'sub'));
  for (let i = 0; i < 8; i++) writeFileSync(join(input, 'sub', `f${i}`), Buffer.alloc(300_000 + i, i));
});

describe('BLAKE3 backends', () => {
  it('this checkout hashes with the native binding (scripts/setup.sh rebuilds it when missing)', () => {
    expect(hashBackend()).toEqual({ name: 'native' });
  });

  it('without the native binding: the WebAssembly build, the same digests, one warning', async () => {
    const expected = (await new Store(tempDir('eos-blake3-native-')).ingest(input)).digest;
    const r = eos(['store', 'add', input]);
    expect(r.stderr).not.toMatch(/internal error|blake3\.load/);
    expect(r.stderr).toMatch(
      /^eos: warning: the native BLAKE3 binding is not available \(.*build\/Release\/blake3.*\); hashing with WebAssembly, which is slower\. Rebuild it: npm rebuild @c4312\/blake3-native blake3/,
    );
    expect(r.stderr.match(/warning/g), r.stderr).toHaveLength(1);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(expected);
    writeFileSync(join(copy, 'abc'), 'abc');
    const blob = eos(['store', 'add', join(copy, 'abc')]);
    expect(blob.stdout.trim()).toBe(digestBytes('abc'));
  });

  it('without either: the named error E25 with a hint, exit 1, no stack', () => {
    rmSync(join(copy, 'node_modules', 'blake3-wasm'));
    const r = eos(['store', 'add', input]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^eos: \[E25\] no BLAKE3 implementation could be loaded: the native binding: .+; the WebAssembly build: .+\nhint: .*npm rebuild @c4312\/blake3-native blake3/,
    );
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  });
});
