/**
 * A vitest reporter that makes a skipped test a failure under `CI=true`: a skip hides a missing
 * install step (a Python module, a tool) as a pass. At the end of the run it lists every skipped
 * test; under CI each one not on tests/skip-allowlist.ts is named on stderr and the run exits 1
 * (vitest only ever raises the exit status). Allow-list entries that no longer skip are reported
 * too, so the list stays short. Registered in vitest.config.ts.
 */
import { relative } from 'node:path';
import type { Reporter, TestCase, TestModule, Vitest } from 'vitest/node';
import { SKIP_ALLOWLIST } from './skip-allowlist.ts';

const root = new URL('..', import.meta.url).pathname;

/** A skipped test: its file (relative to the repository) and full name. */
export interface SkippedTest {
  file: string;
  test: string;
}

/** The skipped tests that the allow-list does not name. */
export function unlistedSkips(skipped: readonly SkippedTest[]): SkippedTest[] {
  return skipped.filter((s) => !SKIP_ALLOWLIST.some((a) => a.file === s.file && a.test === s.test));
}

function* cases(m: TestModule): Generator<TestCase> {
  yield* m.children.allTests();
}

export default class SkipReporter implements Reporter {
  /** A `-t` name filter skips what it leaves out: no enforcement then (CI runs everything). */
  private filtered = false;

  onInit(vitest: Vitest): void {
    this.filtered = vitest.config.testNamePattern !== undefined;
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const skipped: SkippedTest[] = [];
    for (const m of testModules)
      for (const t of cases(m)) {
        const state = t.result().state;
        if (state === 'skipped' || state === 'pending')
          skipped.push({ file: relative(root, m.moduleId), test: t.fullName });
      }
    if (skipped.length === 0) return;
    if (this.filtered) return;
    const ci = process.env.CI === 'true' || process.env.CI === '1';
    const bad = unlistedSkips(skipped);
    const out = process.stderr;
    out.write(
      `\nskipped tests (${skipped.length}; ${skipped.length - bad.length} on tests/skip-allowlist.ts):\n`,
    );
    for (const s of skipped) out.write(`  ${bad.includes(s) ? 'SKIP' : 'allowed'}\t${s.file}\t${s.test}\n`);
    if (ci && bad.length) {
      out.write(
        `\nCI=true: ${bad.length} test(s) skipped without an entry in tests/skip-allowlist.ts; ` +
          'install what they need in scripts/setup.sh, or allow-list them with the reason\n',
      );
      process.exitCode = 1;
    }
  }
}
