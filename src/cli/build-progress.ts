/**
 * The live progress display of `eos build`: a cli-progress bar on stderr, only when stderr is a
 * terminal (nothing otherwise, so logs and pipes get only the tab-separated records). Fed with
 * the scheduler's events.
 *
 * @see specs/scheduler.md §6.3, §10
 */
import { createRequire } from 'node:module';
import type CliProgress from 'cli-progress';

/** The events the display needs (a subset of the scheduler's `SchedulerEvent`). */
export interface ProgressEvent {
  type: 'queued' | 'started' | 'cached' | 'ok' | 'failed' | 'skipped' | 'cancelled';
  label: string;
  total: number;
}

/** A progress display: feed it events, stop it at the end (it clears its line). */
export interface ProgressDisplay {
  onEvent(e: ProgressEvent): void;
  stop(): void;
}

/**
 * Creates the display on `stream` (default stderr). Not a terminal → a display that does nothing.
 * shape: `[████░░░░] 12/40 done · 2 running: openssl, curl · 1 failed`
 */
export function createProgressDisplay(stream: NodeJS.WriteStream = process.stderr): ProgressDisplay {
  if (!stream.isTTY) return { onEvent: () => {}, stop: () => {} };
  // Loaded only for a terminal: a build whose stderr is a pipe or a log never needs it.
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof CliProgress;
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: '[{bar}] {value}/{total} done · {running} running{names}{failures}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: true,
      fps: 10,
      noTTYOutput: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const running = new Set<string>();
  let done = 0;
  let failed = 0;
  let started = false;
  const payload = () => {
    const names = [...running].slice(0, 3).join(', ');
    return {
      running: running.size,
      names: names ? `: ${names}${running.size > 3 ? ', …' : ''}` : '',
      failures: failed ? ` · ${failed} failed` : '',
    };
  };
  return {
    onEvent(e) {
      if (!started) {
        bar.start(e.total, 0, payload());
        started = true;
      }
      if (e.type === 'queued') return;
      if (e.type === 'started') running.add(e.label);
      else {
        running.delete(e.label);
        done++;
        if (e.type === 'failed') failed++;
      }
      bar.update(done, payload());
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
