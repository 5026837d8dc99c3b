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

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  K: 2 ** 10,
  KI: 2 ** 10,
  M: 2 ** 20,
  MI: 2 ** 20,
  G: 2 ** 30,
  GI: 2 ** 30,
  T: 2 ** 40,
  TI: 2 ** 40,
};

/**
 * A size in bytes, at least 1 MiB: a number with an optional binary unit (`512M`, `1.5G`, `2GiB`,
 * `1048576`; K/M/G/T are powers of 1024, a trailing `B` is allowed); undefined stays undefined.
 * @throws UsageError E1 `--max-memory: "lots" is not a size (e.g. 512M, 2G)`
 */
export function sizeBytes(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?)?B?\s*$/i.exec(value);
  const n = m ? Math.floor(Number(m[1]) * SIZE_UNITS[(m[2] ?? '').toUpperCase()]!) : NaN;
  if (!Number.isSafeInteger(n) || n < 2 ** 20)
    throw new UsageError(`${flag}: ${JSON.stringify(value)} is not a size of at least 1M (e.g. 512M, 2G)`, {
      data: { option: flag, value },
    });
  return n;
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
