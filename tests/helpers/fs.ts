// Shared helpers for store tests: temp directories and building trees on disk.
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { digestBytes } from '../../src/kernel/index.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

/**
 * Rewrites `path` with `data` and sets its modification time back to the old one, to the
 * nanosecond (`touch -d @S.N`, as `cp -p` or `tar x` would): only the status-change time tells.
 */
export function rewriteKeepingMtime(path: string, data: string): void {
  const ns = statSync(path, { bigint: true }).mtimeNs;
  writeFileSync(path, data);
  const stamp = `@${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
  execFileSync('touch', ['-m', '-d', stamp, path]);
}

/** A fresh temp directory, removed after the file's tests. */
export function tempDir(prefix = 'eos-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

afterAll(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The repository root. */
export const repoRoot = join(import.meta.dirname, '..', '..');
/** The eos executable. */
export const eosBin = join(repoRoot, 'bin', 'eos.mjs');

/** The golden tree's digest, specs/store.md §3.5. */
export const GOLDEN_DIGEST = 'blake3:8f40b2a9c824d11326248ac2f63d4380e96ee38e307ee1ca3a5509b432fb37c1';

/** One line per path under `dir`: kind, exec bit, content digest or link target. Sorted. */
export function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.push(`${r}\tl\t${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`${r}\td`);
        walk(p, r);
      } else out.push(`${r}\tf\t${st.mode & 0o100 ? 'x' : '-'}\t${st.size}\t${digestBytes(readFileSync(p))}`);
    }
  };
  walk(dir, '');
  return out.sort();
}

/** Builds the golden tree of specs/store.md §3.5 under `dir`, in the given order of steps. */
export function buildGolden(dir: string, reverse = false): void {
  const steps: (() => void)[] = [
    () => writeFileSync(join(dir, 'Zero'), ''),
    () => symlinkSync('/nonexistent/target', join(dir, 'dangling')),
    () => mkdirSync(join(dir, 'empty-dir')),
    () => writeFileSync(join(dir, 'hello.txt'), 'hello\n', { mode: 0o640 }),
    () => {
      writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\necho hi\n');
      chmodSync(join(dir, 'run.sh'), 0o744);
    },
    () => mkdirSync(join(dir, 'sub')),
    () => writeFileSync(join(dir, 'sub', '😀'), ''),
    () => writeFileSync(join(dir, 'sub', 'ﬁ'), 'hello\n'),
    () => symlinkSync('../hello.txt', join(dir, 'sub', 'up')),
  ];
  if (reverse) {
    // subdirectory contents need the subdirectory first
    const [mk, ...rest] = steps.splice(5, 1).concat(steps.splice(5));
    for (const s of [mk!, ...rest.reverse(), ...steps.reverse()]) s();
  } else for (const s of steps) s();
}
