/**
 * The build's GNU make jobserver in the real sandbox (specs/scheduler.md §4.3): a `make` inside an
 * action given a `Jobserver` of N tokens runs N jobs at once even with a `-j1` share, and two
 * actions sharing one jobserver never run more than N jobs between them. Each make job records its
 * start and end time (ns) into $OUTPUT; overlaps are counted from those records. Needs root and
 * bwrap (skips and says so otherwise).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Digest, Store } from '../../src/kernel/index.ts';
import { SandboxWorlds, buildAtom, type SeedLock } from '../../executor/index.ts';
import { Jobserver } from '../../scheduler/index.ts';
import { hostSeedWorld } from './helpers.ts';
import { tempDir } from '../helpers/fs.ts';

const canRun = existsSync('/usr/bin/bwrap') && process.getuid?.() === 0;
if (!canRun) console.warn('jobserver sandbox tests skipped: need root and /usr/bin/bwrap');

const nonce = `${Date.now()}${process.pid}`;
let store: Store;
let seed: SeedLock;

beforeAll(async () => {
  if (!canRun) return;
  const w = await hostSeedWorld();
  store = w.store;
  seed = w.seed.lock;
}, 600_000);

/** A recipe running a Makefile of `n` independent jobs of `sleepS` seconds each, recording their times. */
function makeScript(n: number, sleepS: number): string {
  const targets = Array.from({ length: n }, (_, i) => `t${i}`).join(' ');
  return [
    'cat > "$BUILD/Makefile" <<\'EOF\'',
    `all: ${targets}`,
    `${targets}:`,
    `\t@s=$$(date +%s%N); sleep ${sleepS}; echo "$$s $$(date +%s%N)" > "$(OUTPUT)/$@"`,
    'EOF',
    'echo "MAKEFLAGS=$MAKEFLAGS" >&2',
    'make -f "$BUILD/Makefile"',
  ].join('\n');
}

/** Every job's [start, end] (ns) of an output tree. */
async function intervals(out: Digest): Promise<[bigint, bigint][]> {
  const dir = join(tempDir(), 'out');
  await store.materialize(out, dir, { copy: true });
  return readdirSync(dir).map((f) => {
    const [s, e] = readFileSync(join(dir, f), 'utf8').trim().split(' ');
    return [BigInt(s!), BigInt(e!)];
  });
}

/** The most intervals open at one instant. */
function maxOverlap(iv: [bigint, bigint][]): number {
  const ev = iv.flatMap(([s, e]) => [
    [s, 1],
    [e, -1],
  ]) as [bigint, number][];
  ev.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
  let n = 0;
  let best = 0;
  for (const [, d] of ev) best = Math.max(best, (n += d));
  return best;
}

function build(
  label: string,
  script: string,
  jobserver?: Jobserver,
  worldMount: 'hardlink' | 'composefs' = 'hardlink',
  worlds?: SandboxWorlds,
) {
  return buildAtom({
    store,
    seed,
    label,
    version: '1.0.0',
    recipe: 'std.shell',
    args: { script },
    sources: [],
    jobs: 1,
    worldMount,
    timeoutMs: 300_000,
    ...(jobserver ? { jobserverFd: jobserver.fd } : {}),
    ...(worlds ? { worlds } : {}),
  });
}

describe.skipIf(!canRun)('the GNU make jobserver in the real sandbox (root, bwrap)', () => {
  it('a lone action gets every token (a -j1 share runs 3 jobs at once); without the jobserver it runs 1', async () => {
    const js = new Jobserver(3);
    try {
      const r = await build(`js-lone-${nonce}`, makeScript(6, 1), js);
      const iv = await intervals(r.output);
      expect(iv).toHaveLength(6);
      expect(maxOverlap(iv)).toBe(3);
    } finally {
      js.close();
    }
    const plain = await build(`js-none-${nonce}`, makeScript(3, 0.3));
    expect(maxOverlap(await intervals(plain.output))).toBe(1);
  }, 600_000);

  it('the composefs world passes the jobserver through its mount wrapper too', async () => {
    const js = new Jobserver(2);
    try {
      const r = await build(`js-cfs-${nonce}`, makeScript(4, 1), js, 'composefs');
      expect(maxOverlap(await intervals(r.output))).toBe(2);
    } finally {
      js.close();
    }
  }, 600_000);

  it('a sandbox started by the launcher (specs/executor.md §4.3) reopens the jobserver and gets its tokens', async () => {
    const js = new Jobserver(2);
    const worlds = new SandboxWorlds();
    try {
      const r = await build(`js-launch-${nonce}`, makeScript(4, 1), js, 'composefs', worlds);
      expect(maxOverlap(await intervals(r.output))).toBe(2);
      expect(worlds.stats().entered).toBe(1);
      // Every token came back: 1 in the FIFO (the other is the implicit one).
      expect([js.tryAcquire(), js.tryAcquire()]).toEqual([true, false]);
    } finally {
      await worlds.close();
      js.close();
    }
  }, 600_000);

  it('two actions sharing 3 tokens run at most 3 jobs between them', async () => {
    const js = new Jobserver(3);
    try {
      // As the scheduler does: the first action holds the implicit token, the second takes one.
      expect(js.tryAcquire()).toBe(true);
      const [a, b] = await Promise.all([
        build(`js-a-${nonce}`, makeScript(6, 1), js),
        build(`js-b-${nonce}`, makeScript(6, 1), js),
      ]);
      js.release();
      const ia = await intervals(a.output);
      const ib = await intervals(b.output);
      expect(maxOverlap([...ia, ...ib])).toBeLessThanOrEqual(3);
      expect(maxOverlap([...ia, ...ib])).toBeGreaterThanOrEqual(2);
      // Every token came back: 2 in the FIFO (the third is the implicit one).
      expect([js.tryAcquire(), js.tryAcquire(), js.tryAcquire()]).toEqual([true, true, false]);
    } finally {
      js.close();
    }
  }, 600_000);
});
