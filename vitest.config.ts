import { defineConfig } from 'vitest/config';
import SkipReporter from './tests/skip-reporter.ts';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Rebuilds dist/ (the compiled CLI the tests spawn) when the sources changed since it was built.
    globalSetup: ['tests/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // Under CI=true a skipped test fails the run unless tests/skip-allowlist.ts names it.
    reporters: ['default', new SkipReporter()],
  },
});
