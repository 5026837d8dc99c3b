import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestBytes, type Digest } from '../../src/kernel/index.ts';
import {
  MemoryActionCache,
  VirtualClock,
  actionId,
  constructiveRebuilder,
  readHistory,
  type SyntheticNode,
} from '../../scheduler/index.ts';
import { runBuild, type BuildRunOptions } from '../../src/build/index.ts';

const nodes: SyntheticNode[] = [
  { label: 'zlib', deps: [], durationMs: 10 },
  { label: 'openssl', deps: ['zlib'], durationMs: 30 },
  { label: 'curl', deps: ['openssl', 'zlib'], durationMs: 20 },
  { label: 'xz', deps: [], durationMs: 15 },
];

function options(
  cache: MemoryActionCache,
  failing: string[] = [],
): BuildRunOptions<SyntheticNode> & { clock: VirtualClock } {
  const clock = new VirtualClock();
  return {
    nodes,
    clock,
    storeDir: '/s',
    seedMode: 'seeded',
    jobs: 2,
    key: (n, deps) =>
      actionId({
        atom: digestBytes(n.label),
        recipe: digestBytes('r'),
        args: {},
        toolchain: digestBytes('t'),
        seedMode: 'seeded',
        arch: 'x86_64-linux',
        deps: { ...deps },
      }),
    rebuilder: constructiveRebuilder(cache),
    executor: async (n, ctx) => {
      await clock.sleep(n.durationMs, ctx.signal);
      if (failing.includes(n.label)) throw new Error(`${n.label}: make exited 2`);
      const d: Digest = digestBytes(`out ${n.label}`);
      return { output: d, world: d, log: d };
    },
    logPath: (l) => `/s/logs/${l}.log`,
  };
}

describe('runBuild (eos build without the lock)', () => {
  it('builds, records history, then reports everything cached; exit 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eos-run-'));
    try {
      const cache = new MemoryActionCache();
      const historyPath = join(dir, 'history');
      const o = options(cache);
      const first = await o.clock.run(runBuild({ ...o, historyPath }));
      expect(first.exitCode).toBe(0);
      expect(first.lines[0]).toBe('→ building 4 atom(s) into /s');
      expect(first.lines.filter((l) => l.startsWith('ok\t'))).toHaveLength(4);
      expect(first.lines.at(-1)).toBe('4 atom(s): 4 ok');
      expect(Object.fromEntries(await readHistory(historyPath))).toEqual({
        zlib: 10,
        openssl: 30,
        curl: 20,
        xz: 15,
      });
      const o2 = options(cache);
      const second = await o2.clock.run(runBuild({ ...o2, historyPath }));
      expect(second.lines.at(-1)).toBe('4 atom(s): 0 ok, 4 cached');
      expect(second.exitCode).toBe(0);
      const json = second.json as { events: { format: string; type: string }[]; counts: { cached: number } };
      expect(json.counts.cached).toBe(4);
      expect(json.events.every((e) => e.format === 'eos.build-event')).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exit 3 with FAIL and skipped lines; --only narrows to the closure; --dry-run plans', async () => {
    const cache = new MemoryActionCache();
    const o = options(cache, ['openssl']);
    const r = await o.clock.run(runBuild(o));
    expect(r.exitCode).toBe(3);
    expect(r.lines).toContain('FAIL\topenssl\topenssl: make exited 2 (log: /s/logs/openssl.log)');
    expect(r.lines).toContain('skipped\tcurl\tdependency openssl failed');
    const o2 = options(cache);
    const only = await o2.clock.run(runBuild({ ...o2, only: ['openssl'] }));
    expect(only.lines[0]).toBe('→ building 2 atom(s) into /s');
    expect(only.lines.at(-1)).toBe('2 atom(s): 1 ok, 1 cached');
    const dry = await runBuild({ ...options(cache), dryRun: true });
    expect(dry.lines.map((l) => l.split('\t').filter((_, i) => i !== 2))).toEqual([
      ['dry-run', 'zlib', 'cached'],
      ['dry-run', 'openssl', 'cached'],
      ['dry-run', 'curl', 'build'],
      ['dry-run', 'xz', 'cached'],
    ]);
    await expect(runBuild({ ...options(cache), only: ['nope'] })).rejects.toThrow(
      '[E1] --only: nope is not in the build graph',
    );
    await expect(
      runBuild({ ...options(cache), nodes: [...nodes, { label: 'a', deps: ['missing'], durationMs: 1 }] }),
    ).rejects.toThrow('[E7] a depends on missing, which is not in the build graph');
  });
});

describe('runBuild live lines (onLine)', () => {
  it('hands each record line over the moment it happens and returns only the summary', async () => {
    const opts = options(new MemoryActionCache());
    const seen: { line: string; at: number }[] = [];
    const r = await opts.clock.run(
      runBuild({ ...opts, onLine: (line) => seen.push({ line, at: opts.clock.now() }) }),
    );
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^4 atom\(s\): 4 ok/);
    expect(seen[0]!.line).toMatch(/^→ building 4 atom\(s\) into \/s/);
    // zlib's ok line arrives when zlib finishes (t = 10 ms), long before curl ends the build (t = 60 ms)
    const zlibOk = seen.find((s) => s.line.startsWith('ok\tzlib\t'));
    const curlOk = seen.find((s) => s.line.startsWith('ok\tcurl\t'));
    expect(zlibOk?.at).toBe(10);
    expect(curlOk?.at).toBe(60);
    expect(seen.map((s) => s.line).filter((l) => /^\[\d\/4\]/.test(l))).toHaveLength(4);
  });
});
