/**
 * The suite's file order (tests/sequencer.ts): every long file it moves to the front exists and is
 * a test file vitest runs, listed once (a stale name would silently order nothing).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LONG_FILES } from './sequencer.ts';

const root = join(import.meta.dirname, '..');

describe('the long-first file order', () => {
  it('names existing test files, each once', () => {
    expect(LONG_FILES.length).toBeGreaterThan(0);
    for (const f of LONG_FILES) {
      expect(f).toMatch(/^tests\/.+\.test\.ts$/);
      expect(existsSync(join(root, f)), f).toBe(true);
    }
    expect(new Set(LONG_FILES).size).toBe(LONG_FILES.length);
  });
});
