import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import LongFirstSequencer from './tests/sequencer.ts';
import SkipReporter from './tests/skip-reporter.ts';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Rebuilds dist/ (the compiled CLI the tests spawn) when the sources changed since it was built.
    globalSetup: ['tests/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // One file per core, at least two: vitest's default in `run` is one fewer than the cores, which
    // on a 2-core machine runs the files one at a time while most of them wait on processes,
    // sandboxes and servers. Files sharing the test cache's seeds take its locks
    // (tests/helpers/cache-lock.ts).
    maxWorkers: Math.max(2, availableParallelism()),
    // The longest files start first (tests/sequencer.ts).
    sequence: { sequencer: LongFirstSequencer },
    // Under CI=true a skipped test fails the run unless tests/skip-allowlist.ts names it.
    reporters: ['default', new SkipReporter()],
  },
});
