/**
 * Wires SIGINT and SIGTERM to an AbortController for the length of a build: the first signal
 * aborts (the scheduler stops starting work and aborts running executors, which kill their
 * sandboxes); a second one exits at once with 128 + the signal number.
 *
 * @see specs/scheduler.md §6.2
 */

/** Exit statuses for the signals handled here (128 + signal number). */
export const SIGNAL_EXIT: Readonly<Record<'SIGINT' | 'SIGTERM', number>> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Installs the handlers; returns the controller's signal, the signal received (if any) and a
 * function that removes the handlers.
 * @param onSignal called on the first signal (e.g. to print "cancelling…" on stderr)
 */
export function abortOnSignals(onSignal?: (sig: NodeJS.Signals) => void): {
  signal: AbortSignal;
  received: () => NodeJS.Signals | undefined;
  dispose: () => void;
} {
  const ctrl = new AbortController();
  let got: NodeJS.Signals | undefined;
  const handler = (sig: NodeJS.Signals): void => {
    if (got) process.exit(SIGNAL_EXIT[sig as 'SIGINT' | 'SIGTERM'] ?? 1);
    got = sig;
    onSignal?.(sig);
    ctrl.abort(new Error(`cancelled by ${sig}`));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: ctrl.signal,
    received: () => got,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
