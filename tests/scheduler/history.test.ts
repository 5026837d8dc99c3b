import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestBytes } from '../../src/kernel/index.ts';
import {
  MemoryActionCache,
  VirtualClock,
  constructiveRebuilder,
  encodeHistory,
  historyPath,
  mergeHistory,
  parseHistory,
  readHistory,
  schedule,
  writeHistory,
} from '../../scheduler/index.ts';

describe('duration history (specs/scheduler.md §5)', () => {
  it('encodes canonically, parses back, and rejects malformed files', () => {
    const h = new Map([
      ['zlib', 1200],
      ['curl', 45000],
    ]);
    const bytes = encodeHistory(h);
    expect(new TextDecoder().decode(bytes)).toBe(
      '{"durationsMs":{"curl":45000,"zlib":1200},"format":"eos.scheduler-history","version":1}',
    );
    expect(parseHistory(bytes, 'h')).toEqual(h);
    expect(() => parseHistory(new TextEncoder().encode('{"format":"x","version":1}'), 'h')).toThrow(
      '[E3] h: not an eos.scheduler-history version 1',
    );
    expect(() => encodeHistory(new Map([['a', 1.5]]))).toThrow('[E3] history: duration of a (1.5)');
  });

  it('merges observations by moving average', () => {
    const merged = mergeHistory(
      new Map([
        ['a', 100],
        ['b', 50],
      ]),
      new Map([
        ['a', 300],
        ['c', 7],
      ]),
    );
    expect(Object.fromEntries(merged)).toEqual({ a: 200, b: 50, c: 7 });
  });

  it('reads a missing file as empty; writes atomically; a run measures durations for the next', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eos-history-'));
    try {
      const path = historyPath(dir);
      expect(await readHistory(path)).toEqual(new Map());
      const clock = new VirtualClock();
      const nodes = [
        { label: 'a', deps: [], d: 40 },
        { label: 'b', deps: ['a'], d: 70 },
      ];
      const res = await clock.run(
        schedule({
          nodes,
          clock,
          seedMode: 'seeded',
          key: (n) => digestBytes(n.label),
          rebuilder: constructiveRebuilder(new MemoryActionCache()),
          executor: async (n, ctx) => {
            await clock.sleep(n.d, ctx.signal);
            return { output: digestBytes(`o${n.label}`), world: digestBytes('w'), log: digestBytes('l') };
          },
        }),
      );
      expect(Object.fromEntries(res.durations)).toEqual({ a: 40, b: 70 });
      await writeHistory(path, mergeHistory(await readHistory(path), res.durations));
      expect(Object.fromEntries(await readHistory(path))).toEqual({ a: 40, b: 70 });
      expect(await readFile(path, 'utf8')).toContain('"format":"eos.scheduler-history"');
      await mkdir(join(dir, 'bad'), { recursive: true });
      await writeFile(join(dir, 'bad', 'h'), 'garbage');
      await expect(readHistory(join(dir, 'bad', 'h'))).rejects.toThrow('[E3]');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
