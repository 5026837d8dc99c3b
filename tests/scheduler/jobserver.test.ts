/**
 * The scheduler as a jobserver's top-level "make" (specs/scheduler.md §4.3): one running action
 * holds the implicit token, each further one starts only once it took a token and returns it when
 * it ends; with nothing running the jobserver is refilled. Real timers, a counting token source
 * standing in for the FIFO (its make side is tests/executor/jobserver.test.ts), and a real
 * `Jobserver` FIFO for the refill.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { digestBytes } from '../../src/kernel/index.ts';
import {
  Jobserver,
  MemoryActionCache,
  constructiveRebuilder,
  schedule,
  type JobTokens,
  type SchedNode,
} from '../../scheduler/index.ts';

/** Tokens as a counter: `free` of them are in the "FIFO". */
class Counter implements JobTokens {
  taken = 0;
  constructor(public free: number) {}
  tryAcquire(): boolean {
    if (this.free === 0) return false;
    this.free--;
    this.taken++;
    return true;
  }
  release(): void {
    this.free++;
  }
  reset(): void {}
}

async function run(
  nodes: SchedNode[],
  jobs: number,
  tokens: JobTokens,
  ms: (label: string) => number = () => 30,
) {
  let running = 0;
  let peak = 0;
  const res = await schedule({
    nodes,
    jobs,
    cores: jobs,
    seedMode: 'seeded',
    jobserver: tokens,
    key: (n) => digestBytes(`action ${n.label}`),
    rebuilder: constructiveRebuilder(new MemoryActionCache()),
    executor: async (n) => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, ms(n.label)));
      running--;
      return { output: digestBytes(`out ${n.label}`), world: digestBytes('w'), log: digestBytes('l') };
    },
  });
  return { res, peak };
}

const wide = (n: number): SchedNode[] => Array.from({ length: n }, (_, i) => ({ label: `n${i}`, deps: [] }));

describe('scheduler: the jobserver', () => {
  it('runs one action on the implicit token plus one per token taken, and returns every token', async () => {
    const tokens = new Counter(2); // a jobserver of 3: 2 in the FIFO
    const { res, peak } = await run(wide(12), 8, tokens);
    expect([...res.results.values()].every((r) => r.status === 'ok')).toBe(true);
    expect(peak).toBe(3);
    expect(tokens.free).toBe(2);
    expect(tokens.taken).toBeGreaterThan(0);
  });

  it('a further action waits while a make holds every token, and starts once one comes back', async () => {
    // A make elsewhere holds the only free token for 100 ms; the first action runs for 300 ms.
    const tokens = new Counter(0);
    setTimeout(() => tokens.release(), 100);
    const started: number[] = [];
    const t0 = Date.now();
    const { peak } = await run(wide(2), 2, tokens, (label) => {
      started.push(Date.now() - t0);
      return label === 'n0' ? 300 : 30;
    });
    expect(peak).toBe(2);
    expect(started[1]).toBeGreaterThanOrEqual(90); // it waited for the token, not for n0 to end
    expect(started[1]).toBeLessThan(290);
    expect(tokens.free).toBe(1);
  });

  it('a real Jobserver FIFO: N - 1 tokens, and reset restores what a killed make kept', () => {
    const js = new Jobserver(3);
    try {
      expect([js.tryAcquire(), js.tryAcquire(), js.tryAcquire()]).toEqual([true, true, false]);
      js.reset();
      expect([js.tryAcquire(), js.tryAcquire(), js.tryAcquire()]).toEqual([true, true, false]);
      js.release();
      expect(js.tryAcquire()).toBe(true);
    } finally {
      js.close();
    }
    expect(() => new Jobserver(0)).toThrow('[E39] jobserver: 0 is not a positive whole number of tokens');
  });

  it('the FIFO is made on first use, so a build that starts no action opens none', () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    const js = new Jobserver(2);
    js.reset(); // nothing to refill yet
    expect(fds()).toBe(before);
    const fd = js.fd;
    expect(fds()).toBe(before + 1);
    expect(readlinkSync(`/proc/self/fd/${fd}`)).toMatch(/eos-jobserver-.*\/fifo \(deleted\)$/);
    expect(js.tryAcquire()).toBe(true); // filled with N - 1 when made
    expect(js.tryAcquire()).toBe(false);
    js.close();
    expect(fds()).toBe(before);
    js.close(); // closing twice, or a never-opened one, is harmless
    new Jobserver(3).close();
  });
});
