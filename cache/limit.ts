/**
 * Bounded parallelism for cache transfers: a limiter that runs at most N tasks at once, and, once
 * one task has failed, starts no further task (the tasks already running finish, so no request is
 * left in flight behind the caller's back).
 *
 * @see specs/cache.md §2.1.3, §2.2.1, §5.2 (how many requests are in flight)
 */

/** Objects a push or a substitution keeps in flight per cache (uploads, downloads, probes). */
export const TRANSFERS_IN_FLIGHT = 16;

/** A limiter: `run(fn)` resolves with `fn()`'s value once a slot was free and `fn` finished. */
export interface Limiter {
  /**
   * Runs `fn` when fewer than N tasks run; rejects with the first failure of any task (and never
   * starts `fn`) once a task has failed.
   */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** The first failure, if any. */
  readonly failed: unknown;
}

/** A limiter of `n` (≥ 1) tasks at once. */
export function limiter(n: number): Limiter {
  let active = 0;
  const waiting: (() => void)[] = [];
  let failure: { e: unknown } | undefined;
  const next = () => {
    active--;
    waiting.shift()?.();
  };
  return {
    get failed() {
      return failure?.e;
    },
    async run<T>(fn: () => Promise<T>): Promise<T> {
      if (active >= n) await new Promise<void>((r) => waiting.push(r));
      active++;
      try {
        if (failure) throw failure.e;
        return await fn();
      } catch (e) {
        failure ??= { e };
        throw e;
      } finally {
        next();
      }
    },
  };
}

/**
 * Awaits every promise (so nothing is left running), then throws the first rejection, if any.
 * @returns the values, in order
 */
export async function settleAll<T>(ps: readonly Promise<T>[]): Promise<T[]> {
  const rs = await Promise.allSettled(ps);
  const bad = rs.find((r) => r.status === 'rejected');
  if (bad) throw (bad as PromiseRejectedResult).reason;
  return rs.map((r) => (r as PromiseFulfilledResult<T>).value);
}
