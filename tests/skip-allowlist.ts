/**
 * The tests that may skip under `CI=true` (tests/skip-reporter.ts fails the run for any other
 * skip): each entry names the test file, the test's full name (describe blocks and title, joined
 * by " > ") and why the CI machine cannot have what it needs. Keep it short: a skip that a package
 * would cure is fixed in scripts/setup.sh instead.
 */
export interface AllowedSkip {
  /** The test file, relative to the repository root. */
  file: string;
  /** The test's full name, exactly as vitest prints it. */
  test: string;
  /** Why the machine cannot run it. */
  reason: string;
}

export const SKIP_ALLOWLIST: readonly AllowedSkip[] = [];
