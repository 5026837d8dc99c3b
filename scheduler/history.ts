/**
 * Duration history (pure part): the measured build time of each atom label, kept between runs so
 * the next run's critical-path ranks use real durations. Encoded canonically; updated by an
 * exponential moving average so one outlier does not dominate.
 *
 * @see specs/scheduler.md §5
 */
import { EncodingError, encodeCanonical, parseCanonical } from '../src/kernel/index.ts';

/** Format name of the history file. @see specs/scheduler.md §5 */
export const HISTORY_FORMAT = 'eos.scheduler-history';
/** Version of the history file. */
export const HISTORY_VERSION = 1;
/** Weight of the newest observation in the moving average. @see specs/scheduler.md §5 */
export const HISTORY_ALPHA = 0.5;

/**
 * Encodes durations (label → ms, whole non-negative) as the canonical history document.
 * @throws EncodingError E3 for a duration that is not a non-negative safe integer
 */
export function encodeHistory(durationsMs: ReadonlyMap<string, number>): Uint8Array {
  const obj: Record<string, number> = {};
  for (const [k, v] of durationsMs) {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new EncodingError(`history: duration of ${k} (${v}) is not a non-negative integer`, {
        data: { label: k },
      });
    obj[k] = v;
  }
  return encodeCanonical({ format: HISTORY_FORMAT, version: HISTORY_VERSION, durationsMs: obj });
}

/**
 * Parses a history document.
 * @param what names the file in errors
 * @throws EncodingError E3 when the bytes are not canonical, the format or version is unknown, or a
 *   duration is not a non-negative integer
 */
export function parseHistory(bytes: Uint8Array, what: string): Map<string, number> {
  const v = parseCanonical(bytes, what) as Record<string, unknown>;
  if (
    v === null ||
    typeof v !== 'object' ||
    Array.isArray(v) ||
    v.format !== HISTORY_FORMAT ||
    v.version !== HISTORY_VERSION
  )
    throw new EncodingError(`${what}: not an ${HISTORY_FORMAT} version ${HISTORY_VERSION}`, {
      data: { what },
      hint: 'the history only orders builds; delete the file to start afresh',
    });
  const d = v.durationsMs;
  if (d === null || typeof d !== 'object' || Array.isArray(d))
    throw new EncodingError(`${what}: durationsMs is not an object`, { data: { what } });
  const out = new Map<string, number>();
  for (const [k, x] of Object.entries(d)) {
    if (!Number.isSafeInteger(x) || (x as number) < 0)
      throw new EncodingError(`${what}: duration of ${k} is not a non-negative integer`, {
        data: { what, label: k },
      });
    out.set(k, x as number);
  }
  return out;
}

/**
 * Folds new observations into a history: `round(α·new + (1−α)·old)`, or `new` for a label seen the
 * first time. Labels not observed keep their value.
 */
export function mergeHistory(
  old: ReadonlyMap<string, number>,
  observedMs: ReadonlyMap<string, number>,
): Map<string, number> {
  const out = new Map(old);
  for (const [k, x] of observedMs) {
    const prev = old.get(k);
    out.set(
      k,
      prev === undefined ? Math.round(x) : Math.round(HISTORY_ALPHA * x + (1 - HISTORY_ALPHA) * prev),
    );
  }
  return out;
}
