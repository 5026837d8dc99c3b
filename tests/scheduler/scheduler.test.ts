import { describe, expect, it } from 'vitest';
import { BuildClosureError, EosError, digestBytes } from '../../src/kernel/index.ts';
import {
  MemoryActionCache,
  VirtualClock,
  constructiveRebuilder,
  makeJobsShare,
  prng,
  schedule,
  syntheticDag,
  upwardRanks,
  type DagFamily,
  type SyntheticNode,
} from '../../scheduler/index.ts';
import { TOOLCHAIN, expectedOutput, newWorld, simulate, transitiveDependents, type Sim } from './harness.ts';

const families: DagFamily[] = ['random', 'layered', 'chain-heavy', 'wide'];

function node(label: string, deps: string[], durationMs = 10, estimateMs?: number): SyntheticNode {
  return estimateMs === undefined ? { label, deps, durationMs } : { label, deps, durationMs, estimateMs };
}

/** correctBuild: every node built once, after its deps, with the output its inputs determine. */
function checkCorrectBuild(nodes: SyntheticNode[], sim: Sim, world = newWorld()): void {
  const runsBy = new Map<string, typeof sim.runs>();
  for (const r of sim.runs) runsBy.set(r.label, [...(runsBy.get(r.label) ?? []), r]);
  const outputs = new Map<string, string>();
  for (const n of nodes) {
    const r = sim.result.results.get(n.label)!;
    expect(r.status, n.label).toBe('ok');
    const runs = runsBy.get(n.label)!;
    expect(runs, `${n.label} runs exactly once`).toHaveLength(1);
    for (const d of n.deps) expect(runs[0]!.startMs).toBeGreaterThanOrEqual(runsBy.get(d)![0]!.endMs!);
    const depOutputs = Object.fromEntries(n.deps.map((d) => [d, outputs.get(d)!]));
    const want = expectedOutput(n.label, world, depOutputs as never);
    expect(r.output).toBe(want);
    outputs.set(n.label, want);
    expect(sim.cache.entries.has(r.action!)).toBe(true);
  }
  expect(sim.runs).toHaveLength(nodes.length);
}

describe('scheduler: correctBuild over random DAGs', () => {
  it('builds every node once, after its deps, with consistent outputs; a second run is all cached', async () => {
    const rnd = prng(42);
    for (let i = 0; i < 24; i++) {
      const family = families[i % families.length]!;
      const nodes = syntheticDag(family, 20 + Math.floor(rnd() * 80), 7 + i);
      const jobs = 1 + Math.floor(rnd() * 6);
      const sim = await simulate(nodes, newWorld(), { jobs, cores: 8 });
      checkCorrectBuild(nodes, sim);
      expect(sim.maxConcurrent).toBeLessThanOrEqual(jobs);
      // Second run on the same cache: nothing runs, every node is cached with the same output.
      const again = await simulate(nodes, newWorld(), { jobs, cache: sim.cache });
      expect(again.runs).toHaveLength(0);
      for (const n of nodes) {
        const r = again.result.results.get(n.label)!;
        expect(r.status).toBe('cached');
        expect(r.output).toBe(sim.result.results.get(n.label)!.output);
      }
    }
  });

  it('rebuilds exactly the transitive dependents of a node whose output changed (minimality)', async () => {
    const nodes = syntheticDag('random', 60, 3);
    const first = await simulate(nodes, newWorld());
    const world = newWorld();
    const changed = nodes[10]!.label;
    world.atomVersion.set(changed, 1);
    world.outputSalt.set(changed, 1);
    const second = await simulate(nodes, world, { cache: first.cache });
    const expectRebuilt = new Set([changed, ...transitiveDependents(nodes, [changed])]);
    expect(new Set(second.runs.map((r) => r.label))).toEqual(expectRebuilt);
    for (const n of nodes)
      expect(second.result.results.get(n.label)!.status).toBe(expectRebuilt.has(n.label) ? 'ok' : 'cached');
  });
});

describe('scheduler: job budget', () => {
  it('never runs more than `jobs` executors at once, and fills the budget on wide work', async () => {
    for (const jobs of [1, 2, 3, 5, 8]) {
      const nodes = syntheticDag('wide', 80, jobs);
      const sim = await simulate(nodes, newWorld(), { jobs, cores: 8 });
      expect(sim.maxConcurrent).toBe(jobs);
      // Independent check from the recorded intervals (not the executor's own counter).
      const edges = sim.runs.flatMap((r) => [
        { t: r.startMs, d: 1 },
        { t: r.endMs!, d: -1 },
      ]);
      edges.sort((a, b) => a.t - b.t || a.d - b.d);
      let c = 0;
      for (const e of edges) expect((c += e.d)).toBeLessThanOrEqual(jobs);
    }
  });

  it('derives each job`s make -j share from the cores and the budget', async () => {
    expect(makeJobsShare(8, 4, 1)).toBe(8);
    expect(makeJobsShare(8, 4, 2)).toBe(4);
    expect(makeJobsShare(8, 4, 10)).toBe(2);
    expect(makeJobsShare(2, 8, 10)).toBe(1);
    // A chain runs one job at a time: each gets every core.
    const chain = [node('a', []), node('b', ['a']), node('c', ['b'])];
    const sim = await simulate(chain, newWorld(), { jobs: 4, cores: 8 });
    expect(sim.runs.map((r) => r.makeJobs)).toEqual([8, 8, 8]);
    const wide = syntheticDag('wide', 40, 1);
    const w = await simulate(wide, newWorld(), { jobs: 4, cores: 8 });
    expect(w.runs[0]!.makeJobs).toBe(2);
  });
});

describe('scheduler: failures', () => {
  it('skips exactly the transitive dependents of failed nodes; everything else builds', async () => {
    for (let s = 0; s < 12; s++) {
      const nodes = syntheticDag(families[s % 4]!, 70, 100 + s);
      const world = newWorld();
      const rnd = prng(s);
      for (let k = 0; k < 3; k++) world.failing.add(nodes[Math.floor(rnd() * nodes.length)]!.label);
      const sim = await simulate(nodes, world, { jobs: 3 });
      // A failing node below another failing node is skipped before it can fail.
      const skipped = transitiveDependents(nodes, world.failing);
      const failed = [...world.failing].filter((f) => !skipped.has(f));
      for (const n of nodes) {
        const r = sim.result.results.get(n.label)!;
        if (failed.includes(n.label)) {
          expect(r.status).toBe('failed');
          expect(r.detail).toBe(`${n.label}: make exited 2`);
          expect(r.log).toBe(`/logs/${n.label}.log`);
        } else if (skipped.has(n.label)) {
          expect(r.status).toBe('skipped');
          expect(failed).toContain(r.failedDep);
          expect(transitiveDependents(nodes, [r.failedDep!]).has(n.label)).toBe(true);
          expect(r.detail).toBe(`dependency ${r.failedDep} failed`);
        } else expect(r.status, n.label).toBe('ok');
      }
      // Nothing is recorded for failed or skipped nodes; every ok node is recorded.
      const ok = [...sim.result.results.values()].filter((r) => r.status === 'ok');
      expect(new Set(sim.cache.puts)).toEqual(new Set(ok.map((r) => r.action)));
      // Skipped nodes never ran.
      for (const r of sim.runs) expect(skipped.has(r.label)).toBe(false);
    }
  });

  it('reports skips with the root failure in the events', async () => {
    const nodes = [node('a', []), node('b', ['a']), node('c', ['b']), node('d', [])];
    const world = newWorld();
    world.failing.add('a');
    const sim = await simulate(nodes, world);
    const ends = sim.events.filter((e) => e.type !== 'queued' && e.type !== 'started');
    expect(ends.map((e) => [e.type, e.label, 'detail' in e ? e.detail : ''])).toEqual(
      expect.arrayContaining([
        ['failed', 'a', 'a: make exited 2'],
        ['skipped', 'b', 'dependency a failed'],
        ['skipped', 'c', 'dependency a failed'],
        ['ok', 'd', ''],
      ]),
    );
    expect(ends).toHaveLength(4);
  });

  it('rejects a cyclic, incomplete or duplicate graph with E7 before running anything', async () => {
    const bad: SyntheticNode[][] = [
      [node('a', ['c']), node('b', ['a']), node('c', ['b'])],
      [node('a', []), node('b', ['zlib'])],
      [node('a', []), node('a', [])],
    ];
    const msgs: string[] = [];
    for (const nodes of bad) {
      const sim = simulate(nodes, newWorld());
      const err = await sim.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BuildClosureError);
      expect((err as EosError).code).toBe('E7');
      msgs.push((err as Error).message);
    }
    expect(msgs).toEqual([
      '[E7] dependency cycle: a -> c -> b -> a',
      '[E7] b depends on zlib, which is not in the build graph',
      '[E7] a appears twice in the build graph',
    ]);
  });
});

describe('scheduler: critical path and aging', () => {
  it('ranks are upward ranks from history, then estimates, then the default', () => {
    const nodes = [
      node('a', [], 1, 5),
      node('b', ['a'], 1, 7),
      node('c', ['a']),
      node('d', ['b', 'c'], 1, 2),
    ];
    const history = new Map([['c', 100]]);
    const est = (n: SyntheticNode) => history.get(n.label) ?? n.estimateMs ?? 60_000;
    expect(Object.fromEntries(upwardRanks(nodes, est))).toEqual({ d: 2, b: 9, c: 102, a: 107 });
  });

  it('starts the ready node on the critical path first', async () => {
    // Two independent chains; the long one must start first with one job.
    const nodes = [node('short', [], 5), node('long1', [], 5), node('long2', ['long1'], 50)];
    const history = new Map(nodes.map((n) => [n.label, n.durationMs]));
    const sim = await simulate(nodes, newWorld(), { jobs: 1, history });
    expect(sim.runs.map((r) => r.label)).toEqual(['long1', 'long2', 'short']);
  });

  it('aging: a low-rank ready node runs within the bound despite a stream of higher-rank work', async () => {
    // jobs = 1. `low` (rank 1) is ready at t=0. A chain h0 → h1 → … keeps making high-rank nodes
    // ready (each h_i also has a side node s_i), so by rank alone `low` would run last.
    const k = 200;
    const nodes: SyntheticNode[] = [node('low', [], 1)];
    for (let i = 0; i < k; i++) {
      nodes.push(node(`h${String(i).padStart(3, '0')}`, i ? [`h${String(i - 1).padStart(3, '0')}`] : [], 10));
      nodes.push(node(`s${String(i).padStart(3, '0')}`, [`h${String(i).padStart(3, '0')}`], 10));
    }
    const history = new Map(nodes.map((n) => [n.label, n.durationMs]));
    const readyAt = (sim: Sim, label: string) => {
      const n = nodes.find((x) => x.label === label)!;
      return Math.max(0, ...n.deps.map((d) => sim.runs.find((r) => r.label === d)!.endMs!));
    };
    const agingPerMs = 1;
    const aged = await simulate(nodes, newWorld(), { jobs: 1, history, agingPerMs });
    const R = Math.max(...aged.result.ranks.values());
    const lowStart = aged.runs.find((r) => r.label === 'low')!.startMs;
    // §3.2: nothing that became ready more than R/a after `low` starts before it.
    for (const r of aged.runs)
      if (r.startMs < lowStart) expect(readyAt(aged, r.label)).toBeLessThanOrEqual(R / agingPerMs);
    const order = aged.runs.map((r) => r.label);
    expect(order.indexOf('low')).toBeLessThan(order.length - k / 2);
    // Control: without aging, `low` is starved until the very end.
    const starved = await simulate(nodes, newWorld(), { jobs: 1, history, agingPerMs: 0 });
    expect(starved.runs.at(-1)!.label).toBe('low');
  });
});

describe('scheduler: cancellation', () => {
  it('stops starting work, aborts running executors, and records nothing for them', async () => {
    for (const ignoreAbort of [false, true]) {
      const nodes = syntheticDag('layered', 60, 5);
      const abortAtMs = 700;
      const sim = await simulate(nodes, newWorld(), { jobs: 3, abortAtMs, ignoreAbort });
      expect(sim.result.cancelled).toBe(true);
      const byStatus = (s: string) => [...sim.result.results.values()].filter((r) => r.status === s);
      const ok = byStatus('ok');
      const cancelled = byStatus('cancelled');
      expect(ok.length).toBeGreaterThan(0);
      expect(cancelled.length).toBeGreaterThan(0);
      expect(ok.length + cancelled.length).toBe(nodes.length);
      // Every node that finished before the abort is recorded; nothing else is.
      expect(new Set(sim.cache.puts)).toEqual(new Set(ok.map((r) => r.action)));
      for (const r of sim.runs) {
        expect(r.startMs).toBeLessThan(abortAtMs); // nothing starts after the abort
        const status = sim.result.results.get(r.label)!.status;
        if (r.endMs! > abortAtMs || (r.endMs === abortAtMs && r.aborted)) {
          expect(r.aborted).toBe(true); // the running executor got the signal
          expect(status).toBe('cancelled');
        }
      }
      const inFlight = sim.runs.filter((r) => r.aborted);
      expect(inFlight.length).toBeGreaterThan(0);
      if (!ignoreAbort) for (const r of inFlight) expect(r.endMs).toBe(abortAtMs);
      else expect(Math.max(...inFlight.map((r) => r.endMs!))).toBeGreaterThan(abortAtMs);
    }
  });

  it('an already-aborted signal runs nothing', async () => {
    const ctrl = new AbortController();
    ctrl.abort();
    const cache = new MemoryActionCache();
    const clock = new VirtualClock();
    let ran = 0;
    const res = await schedule({
      nodes: syntheticDag('random', 10, 1),
      seedMode: 'seeded',
      clock,
      signal: ctrl.signal,
      key: () => {
        throw new Error('no key expected');
      },
      rebuilder: constructiveRebuilder(cache),
      executor: async () => {
        ran++;
        throw new Error('unreachable');
      },
    });
    expect(ran).toBe(0);
    expect(res.cancelled).toBe(true);
    expect([...res.results.values()].every((r) => r.status === 'cancelled')).toBe(true);
    expect(cache.puts).toHaveLength(0);
  });
});

describe('scheduler: events', () => {
  it('emits queued for all, then started/cached with [i/N] indexes, and one end event per node', async () => {
    const nodes = syntheticDag('random', 30, 9);
    const first = await simulate(nodes, newWorld());
    const world = newWorld();
    world.atomVersion.set(nodes[25]!.label, 1);
    world.outputSalt.set(nodes[25]!.label, 1);
    const sim = await simulate(nodes, world, { cache: first.cache });
    const ev = sim.events;
    expect(ev.slice(0, nodes.length).every((e) => e.type === 'queued' && e.total === nodes.length)).toBe(
      true,
    );
    const begun = ev.filter((e) => e.type === 'started' || e.type === 'cached');
    expect(begun.map((e) => ('index' in e ? e.index : 0))).toEqual(begun.map((_, i) => i + 1));
    const ends = ev.filter((e) => ['ok', 'cached', 'failed', 'skipped', 'cancelled'].includes(e.type));
    expect(ends.map((e) => e.label).sort()).toEqual(nodes.map((n) => n.label).sort());
    for (let i = 1; i < ev.length; i++) expect(ev[i]!.atMs).toBeGreaterThanOrEqual(ev[i - 1]!.atMs);
    expect(ev.filter((e) => e.type === 'ok').length).toBeGreaterThan(0);
    expect(ev.filter((e) => e.type === 'cached').length).toBeGreaterThan(0);
  });
});

describe('scheduler: check mode', () => {
  it('rebuilds cached actions, reports which outputs differ, and leaves the cache alone', async () => {
    const nodes = syntheticDag('layered', 30, 4);
    const first = await simulate(nodes, newWorld());
    const putsBefore = first.cache.puts.length;
    // One build is not reproducible: same inputs (same action id), different bytes.
    const world = newWorld();
    const flaky = nodes[3]!.label;
    world.outputSalt.set(flaky, 1);
    const sim = await simulate(nodes, world, { cache: first.cache, check: true });
    expect(sim.runs).toHaveLength(nodes.length);
    expect(first.cache.puts.length).toBe(putsBefore);
    for (const n of nodes) {
      const r = sim.result.results.get(n.label)!;
      expect(r.status).toBe('ok');
      expect(r.check!.same, n.label).toBe(n.label !== flaky);
      expect(r.output).toBe(first.result.results.get(n.label)!.output); // dependents see the record
    }
    const okEvents = sim.events.filter((e) => e.type === 'ok');
    expect(okEvents.filter((e) => e.type === 'ok' && e.check?.same === false).map((e) => e.label)).toEqual([
      flaky,
    ]);
  });
});

describe('dry-run plan', () => {
  it('lists cached nodes with their ids, and unknown ids below what must build', async () => {
    const { planBuild, actionId } = await import('../../scheduler/index.ts');
    const { digestBytes } = await import('../../src/kernel/index.ts');
    const nodes = [node('a', []), node('b', ['a']), node('c', []), node('d', ['c', 'b'])];
    const first = await simulate(nodes, newWorld());
    const world = newWorld();
    world.atomVersion.set('b', 1);
    const plan = await planBuild({
      nodes,
      rebuilder: constructiveRebuilder(first.cache),
      key: (n, depOutputs) =>
        actionId({
          atom: digestBytes(`atom ${n.label} v${world.atomVersion.get(n.label) ?? 0}`),
          recipe: digestBytes('recipe std.simulated'),
          args: {},
          toolchain: digestBytes('toolchain'),
          seedMode: 'seeded',
          arch: 'x86_64-linux',
          deps: { ...depOutputs },
        }),
    });
    const r = (l: string) => first.result.results.get(l)!;
    expect(plan.map((p) => [p.label, p.cached, p.action === undefined ? '-' : p.action])).toEqual([
      ['a', true, r('a').action],
      ['b', false, expect.stringMatching(/^blake3:/)],
      ['c', true, r('c').action],
      ['d', false, '-'],
    ]);
    expect(plan[1]!.action).not.toBe(r('b').action);
  });
});

describe('scheduler: robustness', () => {
  it('a dependency listed twice is waited for once, and the node runs once', async () => {
    const nodes = [node('a', []), node('b', ['a', 'a']), node('c', ['c'])];
    await expect(simulate(nodes, newWorld())).rejects.toThrow('[E7] dependency cycle: c -> c');
    const ok = await simulate(nodes.slice(0, 2), newWorld());
    expect(ok.runs.map((r) => r.label)).toEqual(['a', 'b']);
  });

  it('an event callback that throws does not wedge the run; its error surfaces at the end', async () => {
    const nodes = syntheticDag('random', 20, 2);
    let seen = 0;
    const err = await simulate(nodes, newWorld(), {
      onEvent: (e) => {
        seen++;
        if (e.type === 'started') throw new Error('display broke');
      },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as Error).message).toBe('display broke');
    expect(seen).toBeGreaterThanOrEqual(nodes.length * 3); // queued + started + ok for every node
  });
});

describe('scheduler: prepare ahead (specs/scheduler.md §4.4)', () => {
  it('tells the executor of ready nodes waiting for a slot, at most `jobs` ahead, with their dep outputs', async () => {
    const nodes = [
      node('a', [], 30),
      node('b', [], 30),
      node('c', [], 30),
      node('d', [], 30),
      node('e', ['a'], 30),
    ];
    const clock = new VirtualClock();
    const log: string[] = [];
    const prepared = new Map<string, Record<string, string>>();
    let waiting = 0;
    let maxWaiting = 0;
    const executor = Object.assign(
      async (n: SyntheticNode, ctx: { depOutputs: Readonly<Record<string, string>> }) => {
        log.push(`start ${n.label}`);
        if (prepared.has(n.label)) {
          waiting--;
          expect(prepared.get(n.label)).toEqual(ctx.depOutputs);
        }
        await clock.sleep(n.durationMs);
        return {
          output: digestBytes(`out ${n.label}`),
          world: TOOLCHAIN,
          log: digestBytes(`log ${n.label}`),
        };
      },
      {
        prepare: (n: SyntheticNode, depOutputs: Readonly<Record<string, string>>) => {
          expect(prepared.has(n.label), `${n.label} prepared once`).toBe(false);
          expect(log, `${n.label} prepared before it starts`).not.toContain(`start ${n.label}`);
          prepared.set(n.label, { ...depOutputs });
          log.push(`prepare ${n.label}`);
          maxWaiting = Math.max(maxWaiting, ++waiting);
        },
      },
    );
    const res = await clock.run(
      schedule<SyntheticNode>({
        nodes,
        jobs: 2,
        cores: 2,
        seedMode: 'seeded',
        clock,
        key: (n, depOutputs) => digestBytes(JSON.stringify([n.label, depOutputs])),
        rebuilder: constructiveRebuilder(new MemoryActionCache()),
        executor: executor as never,
      }),
    );
    expect([...res.results.values()].every((r) => r.status === 'ok')).toBe(true);
    // Two start at once; the other two wait and are prepared meanwhile; e once a is built.
    expect(maxWaiting).toBeLessThanOrEqual(2);
    expect(prepared.size).toBeGreaterThanOrEqual(2);
    if (prepared.has('e')) expect(prepared.get('e')).toEqual({ a: digestBytes('out a') });
    for (const l of prepared.keys())
      expect(log.indexOf(`prepare ${l}`)).toBeLessThan(log.indexOf(`start ${l}`));
  });
});

describe('scheduler: prepare ahead follows the pick (specs/scheduler.md §4.4)', () => {
  it('prepares the ready node that starts next by priority, not the first to become ready', async () => {
    // a and b are ready first but short; c and d head long chains, so they rank higher.
    const nodes = [
      node('a', [], 10),
      node('b', [], 10),
      node('c', [], 10),
      node('d', [], 10),
      node('c1', ['c'], 10),
      node('c2', ['c1'], 10),
      node('d1', ['d'], 10),
      node('d2', ['d1'], 10),
    ];
    const clock = new VirtualClock();
    const log: string[] = [];
    const executor = Object.assign(
      async (n: SyntheticNode) => {
        log.push(`start ${n.label}`);
        await clock.sleep(n.durationMs);
        return {
          output: digestBytes(`out ${n.label}`),
          world: TOOLCHAIN,
          log: digestBytes(`log ${n.label}`),
        };
      },
      { prepare: (n: SyntheticNode) => void log.push(`prepare ${n.label}`) },
    );
    await clock.run(
      schedule<SyntheticNode>({
        nodes,
        jobs: 1,
        cores: 1,
        seedMode: 'seeded',
        clock,
        key: (n, depOutputs) => digestBytes(JSON.stringify([n.label, depOutputs])),
        rebuilder: constructiveRebuilder(new MemoryActionCache()),
        executor: executor as never,
      }),
    );
    expect(log.slice(0, 3)).toEqual(['start c', 'prepare d', 'start d']);
    // Every node prepared is the next one started.
    for (const [i, l] of log.entries())
      if (l.startsWith('prepare '))
        expect(log.slice(i + 1).find((x) => x.startsWith('start '))).toBe(`start ${l.slice(8)}`);
  });
});

describe('scheduler: a slot given back early (specs/scheduler.md §4.5)', () => {
  it('starts the next action when an executor frees its slot; slot phases never exceed `jobs`', async () => {
    const nodes = [node('a', [], 10), node('b', [], 10), node('c', [], 10), node('d', ['a'], 10)];
    const clock = new VirtualClock();
    const spans: Record<string, { start: number; freed: number; end: number }> = {};
    let inSlot = 0;
    let maxInSlot = 0;
    const res = await clock.run(
      schedule<SyntheticNode>({
        nodes,
        jobs: 1,
        cores: 1,
        seedMode: 'seeded',
        clock,
        key: (n, depOutputs) => digestBytes(JSON.stringify([n.label, depOutputs])),
        rebuilder: constructiveRebuilder(new MemoryActionCache()),
        executor: async (n, ctx) => {
          const span = (spans[n.label] = { start: clock.now(), freed: -1, end: -1 });
          maxInSlot = Math.max(maxInSlot, ++inSlot);
          await clock.sleep(n.durationMs); // the sandbox
          inSlot--;
          span.freed = clock.now();
          ctx.slotFree!();
          ctx.slotFree!(); // idempotent
          await clock.sleep(50); // storing the output, outside the slot
          span.end = clock.now();
          return {
            output: digestBytes(`out ${n.label}`),
            world: TOOLCHAIN,
            log: digestBytes(`log ${n.label}`),
          };
        },
      }),
    );
    expect([...res.results.values()].every((r) => r.status === 'ok')).toBe(true);
    expect(maxInSlot).toBe(1);
    // With one slot, a second action ran while the first stored its output.
    const starts = Object.values(spans).sort((x, y) => x.start - y.start);
    expect(starts[1]!.start).toBeGreaterThanOrEqual(starts[0]!.freed);
    expect(starts[1]!.start).toBeLessThan(starts[0]!.end);
    // A dependent still waits for its dependency's end (its output stored), not its slot.
    expect(spans['d']!.start).toBeGreaterThanOrEqual(spans['a']!.end);
  });
});
