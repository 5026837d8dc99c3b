/**
 * The compiled CLI is never run stale (specs/cli.md §1.2–1.3): in a copy of the checkout whose
 * dist/ is current, `eos --version` runs dist/ silently; after a real edit of a source file (in
 * place: the directory's time does not change), after that edit's modification time is set back,
 * after a file is added and after one is removed, eos says that it runs the sources through tsx,
 * naming the path, and still answers.
 */
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { distState, MANIFEST } from '../bin/dist-state.mjs';
import { repoRoot, tempDir } from './helpers/fs.ts';

let copy = '';

function eos(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(copy, 'bin', 'eos.mjs'), ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeEach(() => {
  copy = tempDir('eos-dist-fresh-');
  for (const name of readdirSync(repoRoot))
    if (!['node_modules', '.git', 'tests', '.eos-demo'].includes(name))
      cpSync(join(repoRoot, name), join(copy, name), { recursive: true });
  symlinkSync(join(repoRoot, 'node_modules'), join(copy, 'node_modules'));
  // The copy's sources are the checkout's, whose dist/ the global setup made current, but they are
  // newer files: mark the copy's build as of its newest listed time (modification or status
  // change), as a build that started just after the copy would be.
  const manifest = join(copy, 'dist', MANIFEST);
  const built = JSON.parse(readFileSync(manifest, 'utf8')) as { paths: string[] };
  let newest = 0;
  for (const p of built.paths) {
    const st = statSync(join(copy, p));
    newest = Math.max(newest, st.mtimeMs, st.ctimeMs);
  }
  const builtAtMs = Math.ceil(newest) + 1;
  writeFileSync(manifest, JSON.stringify({ ...built, builtAtMs }));
  // The tests' edits must come after that build time as the file system stamps it: its clock is
  // coarse (a kernel tick behind Date.now()), so wait until it is well past before any edit.
  const wait = builtAtMs + 100 - Date.now();
  if (wait > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
});

const STALE = /^eos: (.+); running the sources through tsx \(`npm run build` to compile\)\n$/;

describe('dist/ freshness', () => {
  it('a current dist/ runs silently', () => {
    expect(distState(copy)).toEqual({ fresh: true, version: '0.1.0' });
    const r = eos(['--version']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('0.1.0\n');
    expect(r.code).toBe(0);
    // The executable itself (its #! line), and that its --version starts no ES module loader:
    // a module loaded by it would be one of its ESM imports (specs/cli.md §1.4).
    const x = spawnSync(join(copy, 'bin', 'eos.cjs'), ['--version'], {
      encoding: 'utf8',
      env: { ...process.env, NODE_DEBUG: 'esm' },
    });
    expect(x.stdout).toBe('0.1.0\n');
    expect(x.stderr).not.toMatch(/ESM/);
    expect(spawnSync(join(copy, 'bin', 'eos.cjs'), ['store', '--help'], { encoding: 'utf8' }).stdout).toMatch(
      /^Usage: eos store/,
    );
  });

  it('an edit in place makes eos run the sources, naming the file', () => {
    const dir = join(copy, 'src', 'kernel');
    const dirTime = statSync(dir).mtimeMs;
    appendFileSync(join(dir, 'config.ts'), '// an edit\n');
    expect(statSync(dir).mtimeMs).toBe(dirTime); // only the file's own times changed
    const r = eos(['--version']);
    expect(r.stderr).toMatch(STALE);
    expect(STALE.exec(r.stderr)![1]).toBe('src/kernel/config.ts changed since dist/ was built');
    expect(r.stdout).toBe('0.1.0\n');
    expect(r.code).toBe(0);
  });

  it('an edit whose modification time is set back is still seen (its status-change time)', () => {
    const file = join(copy, 'src', 'kernel', 'config.ts');
    appendFileSync(file, '// an edit\n');
    const { builtAtMs } = JSON.parse(readFileSync(join(copy, 'dist', MANIFEST), 'utf8')) as {
      builtAtMs: number;
    };
    const old = new Date(builtAtMs - 3_600_000);
    utimesSync(file, old, old);
    expect(statSync(file).mtimeMs).toBeLessThan(builtAtMs);
    expect(eos(['--version']).stderr).toMatch(
      /^eos: src\/kernel\/config\.ts changed since dist\/ was built;/,
    );
  });

  it('an added source file is seen (its directory)', () => {
    writeFileSync(join(copy, 'scheduler', 'new-module.ts'), 'export const x = 1;\n');
    expect(eos(['--version']).stderr).toMatch(/^eos: scheduler changed since dist\/ was built;/);
  });

  it('a removed source file is seen', () => {
    rmSync(join(copy, 'src', 'cli', 'why.ts'));
    expect(distState(copy)).toMatchObject({ fresh: false });
    expect(eos(['--version']).stderr).toMatch(
      /^eos: src\/cli(\/why\.ts is gone| changed) since dist\/ was built;/,
    );
  });
});
