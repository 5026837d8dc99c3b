/** Types of bin/bundle-run.mjs (running the compiled CLI from V8's code cache, specs/cli.md §1.7). */
import type { Stats } from 'node:fs';
export declare function codeCachePath(
  file: string,
  st: Pick<Stats, 'size' | 'mtimeMs' | 'ctimeMs' | 'ino'>,
): string;
export declare function runBundle(root: string, argv: string[]): Promise<number>;
