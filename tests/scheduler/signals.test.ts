import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestBytes, type Digest } from '../../src/kernel/index.ts';
import { actionEntryPath } from '../../scheduler/index.ts';

const fixture = join(import.meta.dirname, 'fixtures', 'sigint-build.ts');

describe('SIGINT/SIGTERM cancel a build process', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: running actions are killed, nothing partial is stored, exit ${signal === 'SIGINT' ? 130 : 143}`, async () => {
      const store = await mkdtemp(join(tmpdir(), 'eos-sig-'));
      try {
        const child = spawn(process.execPath, ['--import', 'tsx', fixture, store], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        const events: Record<string, unknown>[] = [];
        let buf = '';
        let sent = false;
        child.stdout.on('data', (b: Buffer) => {
          buf += b.toString();
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            events.push(JSON.parse(buf.slice(0, i)));
            buf = buf.slice(i + 1);
            if (!sent && events.filter((e) => e.type === 'pid').length === 3) {
              sent = true;
              setTimeout(() => child.kill(signal), 100);
            }
          }
        });
        const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
        expect(code).toBe(signal === 'SIGINT' ? 130 : 143);
        const ends = Object.fromEntries(
          events.filter((e) => ['ok', 'cancelled'].includes(e.type as string)).map((e) => [e.label, e.type]),
        );
        expect(ends).toEqual({ quick: 'ok', slow1: 'cancelled', slow2: 'cancelled', last: 'cancelled' });
        for (const e of events.filter((e) => e.type === 'pid' && e.label !== 'quick'))
          expect(() => process.kill(e.pid as number, 0)).toThrow(); // the sleep is gone
        const entries: string[] = [];
        for (const d of await readdir(join(store, 'actions')))
          for (const f of await readdir(join(store, 'actions', d)))
            entries.push(join(store, 'actions', d, f));
        expect(entries).toEqual([actionEntryPath(store, digestBytes('action quick') as Digest)]);
      } finally {
        await rm(store, { recursive: true, force: true });
      }
    });
  }
});
