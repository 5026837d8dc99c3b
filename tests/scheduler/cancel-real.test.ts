import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store, digestBytes, digestHex, type Digest } from '../../src/kernel/index.ts';
import { actionEntryPath, schedule, storeRebuilder } from '../../scheduler/index.ts';

/** Real processes, real timers, a real on-disk action cache. */
describe('cancellation with real processes and a filesystem cache', () => {
  it('kills running processes, records only completed actions, leaves no temp files', async () => {
    const store = await mkdtemp(join(tmpdir(), 'eos-cancel-'));
    try {
      const nodes = [
        { label: 'quick1', deps: [], secs: '0.05' },
        { label: 'quick2', deps: [], secs: '0.05' },
        { label: 'slow1', deps: ['quick1'], secs: '30' },
        { label: 'slow2', deps: ['quick2'], secs: '30' },
        { label: 'after', deps: ['slow1', 'slow2'], secs: '0' },
      ];
      const pids = new Map<string, number>();
      const exits = new Map<string, string | null>();
      const ctrl = new AbortController();
      const started: string[] = [];
      const t0 = Date.now();
      const st = new Store(store);
      const res = await schedule({
        nodes,
        jobs: 2,
        seedMode: 'seeded',
        signal: ctrl.signal,
        key: (n) => digestBytes(`action ${n.label}`),
        rebuilder: storeRebuilder(st),
        onEvent: (e) => {
          if (e.type === 'started') {
            started.push(e.label);
            if (started.length === 4) setTimeout(() => ctrl.abort(new Error('SIGINT')), 200);
          }
        },
        executor: (n, ctx) =>
          new Promise((resolve, reject) => {
            const child = spawn('sleep', [n.secs], { signal: ctx.signal, stdio: 'ignore' });
            pids.set(n.label, child.pid!);
            child.on('error', () => {});
            child.on('exit', (code, sig) => {
              exits.set(n.label, sig);
              if (code !== 0) return reject(new Error(`${n.label}: sleep exited ${code ?? sig}`));
              st.blobs
                .put(new TextEncoder().encode(`out ${n.label}`))
                .then((d) => resolve({ output: d, world: d, log: d }), reject);
            });
          }),
      });
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(res.cancelled).toBe(true);
      const status = Object.fromEntries([...res.results].map(([k, r]) => [k, r.status]));
      expect(status).toEqual({
        quick1: 'ok',
        quick2: 'ok',
        slow1: 'cancelled',
        slow2: 'cancelled',
        after: 'cancelled',
      });
      expect(exits.get('slow1')).toBe('SIGTERM');
      expect(exits.get('slow2')).toBe('SIGTERM');
      for (const l of ['slow1', 'slow2']) expect(() => process.kill(pids.get(l)!, 0)).toThrow(); // gone
      expect(pids.has('after')).toBe(false);
      // Only the completed actions are in the cache; no temp files anywhere.
      const files: string[] = [];
      for (const sub of await readdir(join(store, 'actions')))
        for (const f of await readdir(join(store, 'actions', sub)))
          files.push(join(store, 'actions', sub, f));
      const want = ['quick1', 'quick2'].map((l) =>
        actionEntryPath(store, digestBytes(`action ${l}`) as Digest),
      );
      expect(files.sort()).toEqual(want.sort());
      const roots = await readdir(join(store, 'roots'));
      expect(roots.every((r) => !r.startsWith('.tmp'))).toBe(true);
      expect(roots).toHaveLength(4);
      expect((await st.listRoots()).map((r) => r.digest).sort()).toEqual(
        [...new Set(['quick1', 'quick2'].map((l) => digestBytes(`out ${l}`)))].flatMap((d) => [d, d]).sort(),
      );
      expect(roots.some((r) => r.includes(digestHex(digestBytes('action slow1'))))).toBe(false);
    } finally {
      await rm(store, { recursive: true, force: true });
    }
  });
});
