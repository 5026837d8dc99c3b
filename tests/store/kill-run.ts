/**
 * The store kill run, shared by tests/store/cli.test.ts (4 rounds) and bench/ingest/kill.ts (10
 * rounds, 50 kills, or more): rounds of 5 concurrent `eos store add` of one tree into one store,
 * each SIGKILLed at a random moment between start-up and the end of a whole run; every other round
 * starts from an emptied store (`eos store gc --grace 0`) so kills hit fresh writes. Up to 20 more
 * rounds run while no kill has yet landed in the middle of writing an object (temp files left
 * behind), so a run always exercises that case, however fast the machine. The caller then checks
 * that the store verifies clean and that a last ingest completes it.
 *
 * @see specs/store.md §8, §9
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

/** The eos executable. */
const eosBin = join(import.meta.dirname, '..', '..', 'bin', 'eos.mjs');

/** One CLI run's outcome. */
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `eos --store STORE ARGS…`, waited for. */
export function eos(store: string, ...args: string[]): Run {
  const r = spawnSync(process.execPath, [eosBin, '--store', store, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `eos --store STORE ARGS…` in the background, SIGKILLed after `killAfterMs` when given. */
export function eosAsync(
  store: string,
  args: string[],
  killAfterMs?: number,
): Promise<Run & { signal: string | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [eosBin, '--store', store, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    const timer =
      killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A tree of 400 small files, 8 medium ones and one large one (≈ 40 MiB). */
export function buildBulk(dir: string, seed: string): void {
  for (let d = 0; d < 8; d++) {
    const sub = join(dir, `d${d}`);
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < 50; f++)
      writeFileSync(join(sub, `f${f}`), `${seed}-${d}-${f}\n` + 'x'.repeat((f * 397) % 20000));
    writeFileSync(join(sub, 'medium'), randomBytes(2 << 20), { mode: 0o755 });
  }
  writeFileSync(join(dir, 'large'), randomBytes(24 << 20));
}

/** What a kill run did. */
export interface KillReport {
  rounds: number;
  /** Ingests ended by SIGKILL (the others ran to the end). */
  killed: number;
  /** Temp files found in the store's tmp/ after the rounds: kills in the middle of writing an object. */
  litter: number;
  /** Problems: an unkilled ingest that failed, a gc that failed (empty when every run held). */
  failures: string[];
}

/**
 * Runs `rounds` rounds (more while no litter was seen, up to `rounds + 20`) of 5 killed ingests
 * of `src` into `store`.
 * @param timing a bare CLI start (`startMs`) and a whole ingest (`fullMs`), in ms: the kills land
 *   uniformly in [0.8 startMs, 1.5 fullMs]
 */
export async function ingestKillRun(
  store: string,
  src: string,
  rounds: number,
  timing: { startMs: number; fullMs: number },
): Promise<KillReport> {
  const { startMs, fullMs } = timing;
  let killed = 0;
  let litter = 0;
  const failures: string[] = [];
  let round = 0;
  for (; round < rounds || (litter === 0 && round < rounds + 20); round++) {
    const runs = await Promise.all(
      [0, 1, 2, 3, 4].map(() =>
        eosAsync(
          store,
          ['store', 'add', src],
          startMs * 0.8 + Math.random() * (fullMs * 1.5 - startMs * 0.8),
        ),
      ),
    );
    for (const r of runs) {
      if (r.signal === 'SIGKILL') killed++;
      else if (r.code !== 0)
        failures.push(`round ${round}: an unkilled ingest exited ${r.code}: ${r.stderr}`);
    }
    const tmp = join(store, 'tmp');
    if (existsSync(tmp)) litter += readdirSync(tmp).length;
    if (round % 2 === 1) {
      const gc = eos(store, 'store', 'gc', '--grace', '0');
      if (gc.code !== 0) failures.push(`round ${round}: gc exited ${gc.code}: ${gc.stderr}`);
    }
  }
  return { rounds: round, killed, litter, failures };
}
