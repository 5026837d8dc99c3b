/** Types of bin/dist-state.mjs (the freshness check of the compiled CLI, specs/cli.md §1). */
export declare const MANIFEST: string;
export declare function distState(
  root: string,
): { fresh: true; version: string | undefined } | { fresh: false; reason: string };
