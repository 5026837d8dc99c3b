/**
 * A virtual clock for simulations and tests: time advances only when every task is waiting on a
 * virtual timer, straight to the next timer. Works with the scheduler when the executor sleeps on
 * this clock and the rebuilder does no real I/O (the in-memory action cache).
 *
 * @see specs/scheduler.md §7
 */
import type { Clock } from '../scheduler.ts';

interface Timer {
  atMs: number;
  seq: number;
  fire: () => void;
}

/** Virtual time in ms, starting at 0. */
export class VirtualClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers: Timer[] = [];

  now(): number {
    return this.t;
  }

  /** Resolves after `ms` of virtual time; rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
      const timer: Timer = {
        atMs: this.t + Math.max(0, ms),
        seq: this.seq++,
        fire: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.timers = this.timers.filter((x) => x !== timer);
        reject(signal?.reason ?? new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.timers.push(timer);
    });
  }

  /** Number of pending timers. */
  get pending(): number {
    return this.timers.length;
  }

  /**
   * Drives `work` to completion: lets every pending microtask and immediate run, then jumps to the
   * earliest timer and fires all timers due at that time, until `work` settles. While no timer is
   * set, real time passes (real I/O may be in flight); real I/O is not ordered against virtual time.
   * @throws Error when `work` stays pending with no timer for about 5 s of real time (a deadlock)
   */
  async run<T>(work: Promise<T>): Promise<T> {
    let settled = false;
    const watched = work.finally(() => {
      settled = true;
    });
    watched.catch(() => {});
    let idleMs = 0;
    for (;;) {
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
      if (settled) return watched;
      if (this.timers.length === 0) {
        // Real I/O (a file read) may still be in flight: wait in real time, up to a limit.
        if (idleMs >= 5000) throw new Error('virtual clock: work is pending but no timer is set (5 s)');
        await new Promise((r) => setTimeout(r, 1));
        idleMs++;
        continue;
      }
      idleMs = 0;
      let next = this.timers[0]!;
      for (const x of this.timers)
        if (x.atMs < next.atMs || (x.atMs === next.atMs && x.seq < next.seq)) next = x;
      this.t = next.atMs;
      const due = this.timers.filter((x) => x.atMs === this.t).sort((a, b) => a.seq - b.seq);
      this.timers = this.timers.filter((x) => x.atMs !== this.t);
      for (const x of due) x.fire();
    }
  }
}
