/**
 * Checks of numeric and enumerated command-line options, at the edge: each bad value is
 * UsageError E1 (exit 2) naming the option and the value, before anything runs.
 *
 * @see specs/errors.md
 */
import { UsageError } from '../kernel/errors.ts';

/**
 * A whole number ≥ 1 (`--jobs 4`); undefined stays undefined.
 * @throws UsageError E1 `--jobs: "x" is not a positive whole number`
 */
export function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`${flag}: ${JSON.stringify(value)} is not a positive whole number`, {
      data: { option: flag, value },
    });
  return n;
}

/**
 * A time limit in seconds (> 0, decimals allowed: `--timeout 90`, `--timeout 0.5`), returned in
 * milliseconds; undefined stays undefined.
 * @throws UsageError E1 `--timeout: "abc" is not a positive number of seconds`
 */
export function secondsToMs(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(value) || !Number.isFinite(n) || n <= 0)
    throw new UsageError(`${flag}: ${JSON.stringify(value)} is not a positive number of seconds`, {
      data: { option: flag, value },
    });
  return Math.round(n * 1000);
}

/**
 * One of a fixed set of words (`--mode debian|host`); undefined stays undefined.
 * @throws UsageError E1 `--mode: "x" is not one of debian, host`
 */
export function oneOf<T extends string>(
  value: string | undefined,
  flag: string,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value))
    throw new UsageError(`${flag}: ${JSON.stringify(value)} is not one of ${allowed.join(', ')}`, {
      data: { option: flag, value },
    });
  return value as T;
}
