/**
 * The suite's file order (vitest.config.ts `sequence.sequencer`): vitest's own order (failed and
 * slow files first when it has results from an earlier run; larger files first on a clean clone,
 * where it has none), with the files known to run longest moved to the front, so that on a clean
 * clone the parallel workers do not finish the short files first and then wait on one long file.
 * The list names files, not tests: it changes only when a file starts, never what it checks.
 */
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const root = new URL('..', import.meta.url).pathname;

/**
 * The long files of a measured run (relative to the repository root), in the order they start.
 * The first makes the test cache's Debian seed while the next ones, which need no Debian seed,
 * run beside it; the zlib chain builds zlib well before the observe chain wants it cached.
 */
export const LONG_FILES: readonly string[] = [
  'tests/executor/zlib-debian.test.ts',
  'tests/stacks/fault.test.ts',
  'tests/cache/build-substitute.test.ts',
  'tests/examples/zlib-chain.test.ts',
  'tests/stacks/stack.test.ts',
  'tests/examples/corpus-lz4.test.ts',
  'tests/atoms/resolve.test.ts',
  'tests/examples/offline.test.ts',
  'tests/atoms/workspace.test.ts',
  'tests/examples/observe-chain.test.ts',
];

/** Vitest's order, with {@link LONG_FILES} first, in their listed order. */
export default class LongFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification): number => {
      const i = LONG_FILES.indexOf(relative(root, f.moduleId));
      return i < 0 ? LONG_FILES.length : i;
    };
    return sorted
      .map((f, i) => ({ f, i, r: rank(f) }))
      .sort((a, b) => a.r - b.r || a.i - b.i)
      .map((x) => x.f);
  }
}
