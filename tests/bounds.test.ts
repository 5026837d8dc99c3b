/**
 * Unbounded inputs and error messages that name nothing (issue 15, items 11 and 12;
 * specs/errors.md "Bounds"): deep JSON nesting is E47 from one scan (never a stack overflow,
 * exit 70), an endless input (/dev/zero) is E46 after 1 MiB (never a hang), a directory where a
 * file is read is E48 naming what it was read for, and no message quotes a huge value whole.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  EncodingError,
  EosError,
  IoError,
  MESSAGE_MAX,
  NestingTooDeepError,
  NotAFileError,
  InputTooLargeError,
  parseCanonical,
  parseTree,
  readFileBounded,
  quoteValue,
  FIFO_WRITER_WAIT_MS,
} from '../src/kernel/index.ts';
import { eosBin, tempDir } from './helpers/fs.ts';

const enc = (s: string) => new TextEncoder().encode(s);

let seed = 15;
function rnd(n: number): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return Math.floor((seed / 2 ** 31) * n);
}

describe('deep nesting (fuzzed)', () => {
  it('100 000 nested arrays: E47 from parseCanonical and parseTree, not a RangeError', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(() => parseCanonical(enc(deep), 'x.json')).toThrow(NestingTooDeepError);
    expect(() => parseCanonical(enc(deep), 'x.json')).toThrow(
      '[E47] x.json: JSON nests deeper than 64 levels',
    );
    expect(() => parseTree(enc(`{"entries":${deep},"version":1}`), 'tree t')).toThrow(NestingTooDeepError);
  });

  it('random nestings of arrays, objects and bracket-holding strings: parse, E3 or E47, never a crash', () => {
    for (let round = 0; round < 300; round++) {
      const depth = 1 + rnd(round % 3 === 0 ? 200_000 : 120);
      let open = '';
      let close = '';
      for (let i = 0; i < depth; i++) {
        const k = rnd(3);
        if (k === 0) [open, close] = [open + '[', ']' + close];
        else if (k === 1) [open, close] = [open + '{"a":', '}' + close];
        else [open, close] = [open + '["[{\\"",', ']' + close];
      }
      const text = rnd(10) === 0 ? open + '0' + close.slice(rnd(close.length)) : open + '0' + close;
      try {
        parseCanonical(enc(text), 'fuzz');
      } catch (e) {
        expect(e instanceof EncodingError || e instanceof NestingTooDeepError, String(e)).toBe(true);
        if (e instanceof NestingTooDeepError) expect(depth).toBeGreaterThan(64);
      }
    }
  });

  it('64 levels still parse', () => {
    const ok = '['.repeat(64) + ']'.repeat(64);
    expect(parseCanonical(enc(ok))).toBeTruthy();
  });
});

describe('bounded reads', () => {
  it('/dev/zero is E46 after 1 MiB; a directory is E48 naming what was read; a 2 MiB file is E46', async () => {
    await expect(readFileBounded('/dev/zero', { what: 'signature' })).rejects.toThrow(
      '[E46] /dev/zero: signature is larger than 1048576 bytes',
    );
    const d = tempDir();
    await expect(readFileBounded(d, { what: 'atom manifest' })).rejects.toThrow(NotAFileError);
    await expect(readFileBounded(d, { what: 'atom manifest' })).rejects.toThrow(
      `[E48] ${d}: the atom manifest is a directory, not a file`,
    );
    const big = join(d, 'big');
    writeFileSync(big, Buffer.alloc(2 << 20));
    await expect(readFileBounded(big)).rejects.toThrow(InputTooLargeError);
  });

  /**
   * A writer of `bytes` into the FIFO that has opened it (read-write: it never blocks) before it
   * resolves, so no wall-clock race with the reader's open. It holds the FIFO until it has written
   * everything, which it can only do while the reader reads (more than the 64 KiB pipe buffer).
   */
  async function fifoWriter(
    fifo: string,
    file: string,
  ): Promise<{ done: Promise<number | null>; kill: () => void }> {
    const child = spawn(
      'bash',
      // `exec cat`: the killed process is the writer itself (a bash parent killed alone left
      // its cat blocked on the FIFO forever, holding the worker's stderr).
      ['-c', 'exec 3<>"$1"; echo ready; exec cat "$2" >&3', 'w', fifo, file],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    return { done: new Promise((resolve) => child.on('close', resolve)), kill: () => child.kill('SIGKILL') };
  }

  it('a FIFO no one writes: E48 after the writer wait, not a blocked open (specs/cli.md §2)', async () => {
    const fifo = join(tempDir(), 'silent');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const t0 = performance.now();
    await expect(readFileBounded(fifo, { what: 'signature' })).rejects.toThrow(
      `[E48] ${fifo}: the signature is a FIFO or pipe that gave nothing (no writer in ${FIFO_WRITER_WAIT_MS} ms, or an empty one)`,
    );
    // It waited for a writer (the time is not what is tested beyond that lower bound).
    expect(performance.now() - t0).toBeGreaterThanOrEqual(FIFO_WRITER_WAIT_MS - 50);
  }, 60_000);

  it('a FIFO written in several pipe buffers: read whole, byte for byte; past the bound E46', async () => {
    const d = tempDir();
    const fifo = join(d, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 9)) & 0xff;
    const file = join(d, 'data');
    writeFileSync(file, data);
    let w = await fifoWriter(fifo, file);
    const got = await readFileBounded(fifo, { max: 1 << 20 });
    expect(got.equals(data)).toBe(true);
    expect(await w.done).toBe(0);
    w = await fifoWriter(fifo, file);
    await expect(readFileBounded(fifo, { max: 100_000, what: 'signature' })).rejects.toThrow(
      `[E46] ${fifo}: signature is larger than 100000 bytes`,
    );
    // The writer holds a read end too (read-write), so it never sees EPIPE: stop it.
    w.kill();
    await w.done;
  }, 60_000);

  it('a regular file: exactly its bytes (empty, one byte, the bound exactly); bound + 1 is E46', async () => {
    const d = tempDir();
    for (const n of [0, 1, 65_536, 65_537, 100_000]) {
      const f = join(d, `f${n}`);
      const b = Buffer.alloc(n, 0x61 + (n % 26));
      writeFileSync(f, b);
      expect((await readFileBounded(f, { max: 100_000 })).equals(b), String(n)).toBe(true);
    }
    writeFileSync(join(d, 'over'), Buffer.alloc(100_001));
    await expect(readFileBounded(join(d, 'over'), { max: 100_000 })).rejects.toThrow(InputTooLargeError);
  });

  it('eos verify-signature D /dev/zero returns E46 (it never returned)', () => {
    const r = spawnSync(
      process.execPath,
      [eosBin, 'verify-signature', `blake3:${'0'.repeat(64)}`, '/dev/zero', '--for', 'atoms'],
      { encoding: 'utf8', timeout: 120_000, env: { ...process.env, EOS_CONFIG_DIR: tempDir() } },
    );
    expect({ status: r.status, signal: r.signal }).toEqual({ status: 1, signal: null });
    expect(r.stderr).toContain('[E46] /dev/zero: signature is larger than 1048576 bytes');
  });

  it('build-atom: atom.toml a directory is E48; a missing atom path is E4 (was "[E1] no recipe")', () => {
    const d = tempDir();
    mkdirSync(join(d, 'atom', 'atom.toml'), { recursive: true });
    const env = { ...process.env, EOS_STORE: join(d, 'store') };
    const a = spawnSync(process.execPath, [eosBin, 'build-atom', join(d, 'atom')], { encoding: 'utf8', env });
    expect(a.status).toBe(1);
    expect(a.stderr).toContain(
      `[E48] ${join(d, 'atom', 'atom.toml')}: the atom manifest is a directory, not a file`,
    );
    const b = spawnSync(process.execPath, [eosBin, 'build-atom', join(d, 'nope')], { encoding: 'utf8', env });
    expect(b.status).toBe(1);
    expect(b.stderr).toContain(`[E4] ${join(d, 'nope')}: no such atom directory`);
  });
});

describe('messages quote bounded values', () => {
  it('a 10 MB path in an error message is elided to MESSAGE_MAX', () => {
    const path = '/x'.repeat(5_000_000);
    const e = new IoError(`${path}: ENAMETOOLONG`, { data: { path } });
    expect(e.detail.length).toBeLessThanOrEqual(MESSAGE_MAX + 40);
    expect(e.detail).toMatch(/^\/x\/x.*…\(\d+ characters elided\)….*: ENAMETOOLONG$/);
    expect(e).toBeInstanceOf(EosError);
    expect((e.data as { path: string }).path.length).toBe(10_000_000);
    expect(quoteValue('a'.repeat(1000), 10)).toBe('"aaaaaaaaaa"…(1000 characters)');
  });
});
