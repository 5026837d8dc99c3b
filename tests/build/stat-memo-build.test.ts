/**
 * `eos build` through the stat memo (specs/scheduler.md §11.6), with the real compiled CLI, the
 * real sandbox and the small host seed: a second build of unchanged files remembers the lock, the
 * manifests, the atoms' files and the action-cache entries; a third uses them (a planted digest
 * in the memo is believed: the check can fail); an edit that keeps the size and sets the
 * modification time back is still seen (status-change time); a damaged memo is an empty one.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeLock } from '../../atoms/index.ts';
import { RACY_MS, digestBytes, statMemoPath } from '../../src/kernel/index.ts';
import { eosBin, rewriteKeepingMtime, tempDir } from '../helpers/fs.ts';
import { smallSeed } from './small-seed.ts';

const canRun = existsSync('/usr/bin/bwrap') && process.getuid?.() === 0 && process.env.EOS_NO_MOUNT !== '1';

let store = '';
let seedLock = '';
let base = '';

beforeAll(async () => {
  if (!canRun) return;
  const seed = await smallSeed();
  base = tempDir('eos-stat-memo-build-');
  store = join(base, 'store');
  cpSync(seed.store, store, { recursive: true, preserveTimestamps: true });
  seedLock = join(base, 'seed.lock');
  cpSync(seed.lock, seedLock);
}, 300_000);

function atomToml(label: string, deps: string[], word: string): string {
  return [
    '[atom]',
    `label = "${label}"`,
    'version = "1.0.0"',
    '',
    ...(deps.length ? ['[deps]', ...deps.map((d) => `${d} = "^1.0"`), ''] : []),
    '[build]',
    'recipe = "std.shell"',
    `script = '''mkdir -p "$OUTPUT/share" && echo ${word} > "$OUTPUT/share/${label}"'''`,
    '',
  ].join('\n');
}

/** `eos build --json`, which must exit `code`: how each action ended (`ok`, `cached`, `failed`) by label. */
function build(lock: string, code: 3): { statuses: Record<string, string>; stdout: string };
function build(lock: string): Record<string, string>;
function build(
  lock: string,
  code = 0,
): Record<string, string> | { statuses: Record<string, string>; stdout: string } {
  const r = spawnSync(
    process.execPath,
    [eosBin, '--store', store, '--json', 'build', lock, '--seed-lock', seedLock, '-j', '2'],
    { encoding: 'utf8' },
  );
  expect(r.status, r.stderr + r.stdout.slice(-3000)).toBe(code);
  const out: Record<string, string> = {};
  for (const e of JSON.parse(r.stdout).events as { type: string; label: string }[])
    if (e.type === 'ok' || e.type === 'cached' || e.type === 'failed') out[e.label] = e.type;
  return code === 0 ? out : { statuses: out, stdout: r.stdout };
}

/** The memo's entries by kind (paths under `base` only). */
function memoKinds(): Record<string, string[]> {
  const doc = JSON.parse(readFileSync(statMemoPath(store), 'utf8')) as { entries: Record<string, unknown> };
  const out: Record<string, string[]> = {};
  for (const k of Object.keys(doc.entries)) {
    const [kind, path] = k.split('\u0000') as [string, string];
    (out[kind] ??= []).push(path);
  }
  return out;
}

describe.skipIf(!canRun)('eos build and the stat memo (root, bwrap)', () => {
  it('remembers unchanged files, believes what it holds, sees an edit with its mtime set back', async () => {
    const ws = join(base, 'ws');
    for (const [label, deps] of [
      ['a', []],
      ['b', ['a']],
    ] as const) {
      mkdirSync(join(ws, label), { recursive: true });
      writeFileSync(join(ws, label, 'atom.toml'), atomToml(label, [...deps], 'one'));
    }
    const lock = join(ws, 'eos.lock');
    writeFileSync(
      lock,
      encodeLock({
        version: 1,
        prerelease: false,
        sets: {},
        atoms: {},
        workspace: {
          a: { path: 'a', version: '1.0.0', deps: [] },
          b: { path: 'b', version: '1.0.0', deps: ['a'] },
        },
      }),
    );
    expect(build(lock)).toEqual({ a: 'ok', b: 'ok' });
    // Files changed within RACY_MS of a run are not remembered; wait past it.
    await new Promise((r) => setTimeout(r, RACY_MS + 200));
    expect(build(lock)).toEqual({ a: 'cached', b: 'cached' });
    const kinds = memoKinds();
    const aToml = join(ws, 'a', 'atom.toml');
    expect(kinds['lock']).toContain(lock);
    expect(kinds['manifest']).toEqual(expect.arrayContaining([aToml, join(ws, 'b', 'atom.toml')]));
    expect(kinds['blob']).toContain(aToml);
    expect(kinds['action-entry']?.length).toBe(2);
    expect(build(lock)).toEqual({ a: 'cached', b: 'cached' });

    // The memo is what the build believes for the action key: a planted digest for a's file makes a
    // new key, so a runs; and the executor, which hashes the directory it builds from against that
    // digest, refuses it (E13): a wrong memo fails a build, it never builds the wrong thing.
    const memoFile = statMemoPath(store);
    const saved = readFileSync(memoFile, 'utf8');
    const doc = JSON.parse(saved) as { entries: Record<string, [string, unknown]> };
    doc.entries[`blob\u0000${aToml}`]![1] = [digestBytes('planted'), 1];
    writeFileSync(memoFile, JSON.stringify(doc));
    const planted = build(lock, 3);
    expect(planted.statuses.a).toBe('failed');
    expect(planted.stdout).toContain('[E13] fixed-output hash mismatch');
    writeFileSync(memoFile, saved);
    expect(build(lock)).toEqual({ a: 'cached', b: 'cached' });

    // An edit of the same size with the modification time set back (touch -d, cp -p, tar x).
    rewriteKeepingMtime(aToml, atomToml('a', [], 'two'));
    expect(build(lock)).toEqual({ a: 'ok', b: 'ok' });

    // A damaged memo is an empty one.
    writeFileSync(memoFile, '{"format":');
    expect(build(lock)).toEqual({ a: 'cached', b: 'cached' });
  }, 240_000);
});
