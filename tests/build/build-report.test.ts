import { describe, expect, it } from 'vitest';
import type { SchedulerEvent, SyntheticNode } from '../../scheduler/index.ts';
import {
  buildExitCode,
  buildEventJson,
  buildHeader,
  buildSummary,
  formatBuildEvent,
  formatDryRun,
} from '../../src/build/index.ts';
import { newWorld, simulate } from '../scheduler/harness.ts';

const nodes: SyntheticNode[] = [
  { label: 'zlib', deps: [], durationMs: 10 },
  { label: 'openssl', deps: ['zlib'], durationMs: 30 },
  { label: 'curl', deps: ['openssl', 'zlib'], durationMs: 20 },
  { label: 'xz', deps: [], durationMs: 15 },
];

describe('eos build surface (specs/scheduler.md §10)', () => {
  it('prints [i/N], ok/cached/FAIL/skipped records and the summary for a real run', async () => {
    const first = await simulate(nodes, newWorld(), { jobs: 1 });
    const world = newWorld();
    world.atomVersion.set('openssl', 1);
    world.failing.add('openssl');
    world.atomVersion.set('xz', 1);
    const sim = await simulate(nodes, world, { jobs: 1, cache: first.cache });
    const lines = [
      buildHeader(nodes.length, '/var/eos/store'),
      ...sim.events.flatMap((e) => formatBuildEvent(e, (l) => `/logs/${l}.log`)),
      buildSummary(sim.result.results.values()),
    ];
    const zlib = first.result.results.get('zlib')!.output;
    const xz = sim.result.results.get('xz')!.output;
    expect(lines).toEqual([
      '→ building 4 atom(s) into /var/eos/store',
      '[1/4] zlib',
      `cached\tzlib\t${zlib}`,
      '[2/4] openssl', // one job: openssl is on the critical path, xz waits
      'FAIL\topenssl\topenssl: make exited 2 (log: /logs/openssl.log)',
      'skipped\tcurl\tdependency openssl failed',
      '[3/4] xz',
      `ok\txz\t${xz}`,
      '4 atom(s): 1 ok, 1 cached, 1 failed, 1 skipped',
    ]);
    expect(buildExitCode(sim.result.results.values())).toBe(3);
    expect(buildExitCode(first.result.results.values())).toBe(0);
    const cancelled = await simulate(nodes, newWorld(), { abortAtMs: 5 });
    expect(buildExitCode(cancelled.result.results.values(), 143)).toBe(143);
  });

  it('formats dry-run lines and versioned JSON events', () => {
    expect(
      formatDryRun([
        { label: 'zlib', action: 'blake3:ab' as never, cached: true },
        { label: 'curl', cached: false },
      ]),
    ).toEqual(['dry-run\tzlib\tblake3:ab\tcached', 'dry-run\tcurl\t-\tbuild']);
    const e: SchedulerEvent = {
      type: 'skipped',
      label: 'c',
      atMs: 5,
      total: 3,
      detail: 'dependency a failed',
      failedDep: 'a',
    };
    expect(JSON.parse(buildEventJson(e))).toEqual({ format: 'eos.build-event', version: 1, ...e });
  });
});
