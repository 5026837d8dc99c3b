/**
 * Running host tools (apt, dpkg-deb, tar, git, readelf) outside the sandbox: one helper that
 * captures output and turns a failure into a located error.
 */
import { spawn } from 'node:child_process';
import { IoError } from '../src/kernel/index.ts';

/** What a finished host command printed. */
export interface ProcResult {
  stdout: string;
  stderr: string;
  code: number;
}

/**
 * Runs `cmd args` and resolves with its output.
 * @param opts.cwd working directory; `opts.env` the environment (default: the caller's);
 *   `opts.allowFail` resolves instead of throwing on a non-zero exit
 * @throws IoError E12 when the command cannot start or exits non-zero (unless allowFail)
 */
export function runProc(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; allowFail?: boolean } = {},
): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new IoError(`${cmd}: cannot run (${e.message})`, { data: { cmd } })));
    child.on('close', (code) => {
      const r = {
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        code: code ?? -1,
      };
      if (r.code !== 0 && !opts.allowFail) {
        const tail = r.stderr.trim().split('\n').slice(-3).join(' | ');
        reject(
          new IoError(`${cmd} ${args.slice(0, 4).join(' ')}…: exit ${r.code}: ${tail}`, {
            data: { cmd, code: r.code },
          }),
        );
      } else resolve(r);
    });
  });
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (t: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
