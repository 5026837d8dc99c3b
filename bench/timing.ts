/**
 * Timing helpers shared by the benches (bench/world, bench/verify): the median of repeated runs,
 * and the wall time of one call in seconds.
 */

/** The median of `xs` (the upper middle of an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Wall time of `fn` in seconds (process.hrtime). */
export async function time(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}
