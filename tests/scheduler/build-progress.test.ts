import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgressDisplay } from '../../src/cli/build-progress.ts';
import { newWorld, simulate } from './harness.ts';
import { MemoryActionCache, constructiveRebuilder, schedule, syntheticDag } from '../../scheduler/index.ts';
import { digestBytes } from '../../src/kernel/index.ts';

/** A terminal-like stream that keeps what is written (cli-progress is a library, not ours). */
function terminal(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(w, {
    isTTY,
    columns: 120,
    cursorTo: (x: number, cb?: () => void) => (chunks.push(`<cursor ${x}>`), cb?.(), true),
    clearLine: (_d: number, cb?: () => void) => (chunks.push('<clear>'), cb?.(), true),
    moveCursor: (_x: number, _y: number, cb?: () => void) => (cb?.(), true),
  });
  return { stream: w, text: () => chunks.join('') };
}

describe('eos build progress display', () => {
  it('draws a bar with running labels on a terminal, from real scheduler events in real time', async () => {
    const nodes = [
      { label: 'zlib', deps: [] },
      { label: 'xz', deps: [] },
      { label: 'openssl', deps: ['zlib'] },
      { label: 'curl', deps: ['openssl', 'xz'] },
    ];
    const t = terminal(true);
    const display = createProgressDisplay(t.stream);
    await schedule({
      nodes,
      jobs: 2,
      seedMode: 'seeded',
      key: (n) => digestBytes(n.label),
      rebuilder: constructiveRebuilder(new MemoryActionCache()),
      onEvent: (e) => display.onEvent(e),
      executor: async (n) => {
        await new Promise((r) => setTimeout(r, 150)); // longer than the display's 100 ms redraw throttle
        if (n.label === 'curl') throw new Error('curl: make exited 2');
        return { output: digestBytes(`o ${n.label}`), world: digestBytes('w'), log: digestBytes('l') };
      },
    });
    display.stop();
    const out = t.text();
    expect(out).toContain('0/4 done');
    expect(out).toMatch(/[0-3]\/4 done · [12] running: (zlib|xz|openssl)/);
    expect(out).toContain('4/4 done · 0 running · 1 failed');
  });

  it('writes nothing when the stream is not a terminal', async () => {
    const t = terminal(false);
    const display = createProgressDisplay(t.stream);
    await simulate(syntheticDag('random', 5, 1), newWorld(), { onEvent: (e) => display.onEvent(e) });
    display.stop();
    expect(t.text()).toBe('');
  });
});
