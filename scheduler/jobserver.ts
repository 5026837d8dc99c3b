/**
 * A GNU make jobserver owned by one `eos build`: `tokens` job slots shared by every running action
 * and every `make` inside them, so that a lone action gets every slot and concurrent ones share
 * them as they go. The scheduler is the top-level "make": the first running action uses the
 * implicit token; each further action it starts takes one token from the jobserver first and
 * returns it when it ends; a `make` in an action takes tokens for its parallel jobs the same way.
 *
 * The jobserver is a FIFO opened read-write and non-blocking, its name unlinked at once (nothing
 * is left behind, even after SIGKILL). A sandbox receives it as inherited file descriptors 3 and 4
 * with `MAKEFLAGS=-jN --jobserver-auth=3,4`: the pipe form that GNU make 4.3 (the Debian bookworm
 * seed) reads; make ≥ 4.4 reads it too.
 *
 * @see specs/scheduler.md §4.3
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobserverError } from '../src/kernel/index.ts';

/** What the scheduler needs of a jobserver (a {@link Jobserver}, or a test's counter). */
export interface JobTokens {
  /** Takes one token when one is free, without waiting; true when taken. */
  tryAcquire(): boolean;
  /** Returns one token taken by `tryAcquire`. */
  release(): void;
  /** Nothing runs: restores the full count (tokens a killed `make` never returned). */
  reset(): void;
  /** The file descriptor an action inherits (read and write end), when it is a real jobserver. */
  readonly fd?: number;
}

const TOKEN = Buffer.from('+');

/**
 * A jobserver of `tokens` slots; `close()` it when the build ends. The FIFO is made when it is
 * first needed (`fd`, `tryAcquire`): a build that starts no action (a no-op) makes none, and
 * costs no `mkfifo` (specs/scheduler.md §4.3).
 */
export class Jobserver implements JobTokens {
  private opened: number | undefined;
  private readonly byte = Buffer.alloc(1);

  /**
   * @param tokens job slots, at least 1 (`tokens - 1` are in the FIFO: the first is implicit)
   * @throws JobserverError E39 when `tokens` is not a positive whole number
   */
  constructor(readonly tokens: number) {
    if (!(Number.isInteger(tokens) && tokens >= 1))
      throw new JobserverError(`jobserver: ${tokens} is not a positive whole number of tokens`);
  }

  /**
   * The FIFO's descriptor (read and write end), made and filled with `tokens - 1` tokens on the
   * first use.
   * @throws JobserverError E39 when the FIFO cannot be made or opened
   */
  get fd(): number {
    if (this.opened === undefined) {
      this.opened = openFifo();
      this.reset();
    }
    return this.opened;
  }

  tryAcquire(): boolean {
    try {
      return readSync(this.fd, this.byte, 0, 1, null) === 1;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return false;
      throw e;
    }
  }

  release(): void {
    writeSync(this.fd, TOKEN);
  }

  reset(): void {
    if (this.opened === undefined) return; // made full on first use
    while (this.tryAcquire());
    for (let i = 1; i < this.tokens; i++) writeSync(this.fd, TOKEN);
  }

  /** Closes the FIFO (an action still holding it keeps its own descriptors). */
  close(): void {
    if (this.opened !== undefined) closeSync(this.opened);
    this.opened = undefined;
  }
}

/**
 * Makes a FIFO in a private temp directory, opens it read-write and non-blocking, and removes the
 * name (the descriptor keeps it alive; nothing is left behind, even after SIGKILL).
 * @throws JobserverError E39 when the FIFO cannot be made or opened
 */
function openFifo(): number {
  const dir = mkdtempSync(join(tmpdir(), 'eos-jobserver-'));
  const fifo = join(dir, 'fifo');
  try {
    const r = spawnSync('mkfifo', ['-m', '0600', fifo], { encoding: 'utf8' });
    if (r.status !== 0)
      throw new JobserverError(`jobserver: mkfifo ${fifo} failed: ${(r.stderr || r.error?.message) ?? ''}`);
    // O_RDWR: opening a FIFO neither blocks nor sees EOF while this end is open.
    try {
      return openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    } catch (e) {
      throw new JobserverError(`jobserver: cannot open ${fifo}: ${(e as Error).message}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
