import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { ResolutionError } from '../../src/kernel/index.ts';
import { resolve, type Candidate, type RootRequirement } from '../../atoms/index.ts';

type ResolveOptions = NonNullable<Parameters<typeof resolve>[2]>;
type Spec = Record<string, Record<string, Record<string, string>>>;

/** `{label: {version: {dep: range}}}` → a universe. */
function universe(spec: Spec): Map<string, Candidate[]> {
  const m = new Map<string, Candidate[]>();
  for (const [label, versions] of Object.entries(spec))
    m.set(
      label,
      Object.entries(versions).map(([version, deps]) => ({
        version,
        deps: Object.fromEntries(
          Object.entries(deps).map(([d, r]) =>
            r.startsWith('pre:')
              ? [d, { range: r.slice(4), prerelease: true }]
              : [d, { range: r, prerelease: false }],
          ),
        ),
      })),
    );
  return m;
}
const root = (label: string, range: string, from = 'app'): RootRequirement => ({ from, label, range });

function conflict(f: () => unknown): ResolutionError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ResolutionError);
    return e as ResolutionError;
  }
  throw new Error('expected a ResolutionError');
}

describe('resolve', () => {
  it('diamond: both sides constrain the shared dependency; newest allowed wins', () => {
    const u = universe({
      a: { '1.0.0': { c: '^1.2' }, '1.1.0': { c: '^1.2' } },
      b: { '1.0.0': { c: '<1.5' } },
      c: { '1.1.0': {}, '1.2.0': {}, '1.4.9': {}, '1.5.0': {}, '2.0.0': {} },
      unrelated: { '9.9.9': {} },
    });
    const r = resolve(u, [root('a', '^1'), root('b', '^1')]);
    expect(r.chosen).toEqual({ a: '1.1.0', b: '1.0.0', c: '1.4.9' });
    expect(r.edges).toEqual({ a: ['c'], b: ['c'], c: [] });
    expect(r.stats.labels).toBe(3);
  });

  it('backtracks when the newest choice forces a conflict later', () => {
    const u = universe({
      a: { '2.0.0': { b: '^2' }, '1.0.0': { b: '^1' } },
      b: { '2.0.0': { c: '^2' }, '2.1.0': { c: '^2' }, '1.0.0': { c: '^1' } },
      c: { '1.0.0': {}, '2.0.0': {} },
    });
    const r = resolve(u, [root('a', '*'), root('c', '=1.0.0')]);
    expect(r.chosen).toEqual({ a: '1.0.0', b: '1.0.0', c: '1.0.0' });
    // Without the pin the newest of everything.
    expect(resolve(u, [root('a', '*')]).chosen).toEqual({ a: '2.0.0', b: '2.1.0', c: '2.0.0' });
  });

  it('a root pinned old holds even though newer versions satisfy the other ranges', () => {
    const u = universe({
      curl: { '7.88.1': { openssl: '^3.0', zlib: '^1.2' } },
      openssl: { '3.0.20': {}, '3.0.22': {} },
      zlib: { '1.2.13': {}, '1.3.1': {} },
    });
    const r = resolve(u, [root('curl', '^7'), root('openssl', '=3.0.20')]);
    expect(r.chosen).toEqual({ curl: '7.88.1', openssl: '3.0.20', zlib: '1.3.1' });
    expect(r.edges.curl).toEqual(['openssl', 'zlib']);
  });

  it('prereleases only when asked for, per range or globally', () => {
    const u = universe({
      x: { '1.0.0': {}, '1.1.0-rc.1': {} },
      y: { '1.0.0': { x: 'pre:^1' } },
    });
    expect(resolve(u, [root('x', '^1')]).chosen).toEqual({ x: '1.0.0' });
    expect(resolve(u, [root('x', '^1')], { prerelease: true }).chosen).toEqual({ x: '1.1.0-rc.1' });
    expect(resolve(u, [{ ...root('x', '^1'), prerelease: true }]).chosen).toEqual({ x: '1.1.0-rc.1' });
    expect(resolve(u, [root('y', '*')]).chosen).toEqual({ x: '1.1.0-rc.1', y: '1.0.0' });
    // A range that names a prerelease of the same tuple admits it (semver's own rule).
    expect(resolve(u, [root('x', '>=1.1.0-rc.0')]).chosen).toEqual({ x: '1.1.0-rc.1' });
    const only = universe({ z: { '2.0.0-beta.1': {} } });
    expect(conflict(() => resolve(only, [root('z', '^2')])).message).toBe(
      '[E17] app needs z ^2, but no version of z satisfies it (z has 2.0.0-beta.1)',
    );
  });

  it('explains a conflict with the requirements that make it (the issue example)', () => {
    const u = universe({
      app2: { '1.0.0': {} },
      curl: { '7.88.1': { openssl: '^3.2', zlib: '^1' } },
      openssl: { '3.0.20': {}, '3.2.1': {} },
      zlib: { '1.3.1': {} },
    });
    const e = conflict(() => resolve(u, [root('curl', '^7'), root('openssl', '=3.0.20'), root('app2', '*')]));
    expect(e.message).toBe(
      '[E17] app needs curl ^7; curl 7.88.1 needs openssl ^3.2, but app pins openssl =3.0.20',
    );
    expect(e.data.core).toEqual([
      'app needs curl ^7',
      'curl 7.88.1 needs openssl ^3.2',
      'app pins openssl =3.0.20',
    ]);
    expect(e.hint).toBe('versions of openssl: 3.2.1, 3.0.20');
  });

  it('merges versions of one requirer that need the same range, and reaches down chains', () => {
    const u = universe({
      app: { '1.0.0': { curl: '^7' } },
      curl: { '7.88.1': { ssl: '^3.2' }, '7.88.0': { ssl: '^3.2' }, '6.0.0': {} },
      ssl: { '3.0.20': {}, '3.2.1': { zlib: '^2' } },
      zlib: { '1.0.0': {}, '2.0.0': {} },
    });
    const e = conflict(() => resolve(u, [root('app', '*', 'workspace'), root('ssl', '3.0.20', 'workspace')]));
    expect(e.message).toBe(
      '[E17] workspace needs app *; app 1.0.0 needs curl ^7; curl 7.88.1, 7.88.0 need ssl ^3.2, but workspace pins ssl 3.0.20',
    );
  });

  it('a dependency nobody offers', () => {
    const u = universe({ a: { '1.0.0': { ghost: '^1' } } });
    expect(conflict(() => resolve(u, [root('a', '^1')])).message).toBe(
      '[E17] app needs a ^1; a 1.0.0 needs ghost ^1, but no version of ghost satisfies it (no ghost is offered by the atom sets)',
    );
    expect(conflict(() => resolve(u, [root('b', '^1')])).message).toBe(
      '[E17] app needs b ^1, but no version of b satisfies it (no b is offered by the atom sets)',
    );
  });

  it('is deterministic: the same result whatever the input order', () => {
    const spec: Spec = {
      a: { '1.0.0': { b: '^1', c: '^1' }, '1.1.0': { b: '^1', c: '^1' } },
      b: { '1.0.0': { d: '1.x' }, '1.2.0': { d: '~1.1' } },
      c: { '1.0.0': { d: '>=1.0.0 <1.2.0' }, '1.3.0': { d: '^1.2' } },
      d: { '1.0.0': {}, '1.1.0': {}, '1.1.5': {}, '1.2.0': {} },
    };
    const roots = [root('a', '*'), root('d', '<1.2', 'pin')];
    const first = resolve(universe(spec), roots);
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const shuffle = <T>(xs: T[]): T[] =>
      xs
        .map((x) => [rnd(), x] as const)
        .sort((p, q) => p[0] - q[0])
        .map((p) => p[1]);
    for (let k = 0; k < 10; k++) {
      const u = new Map(shuffle([...universe(spec).entries()]).map(([l, cs]) => [l, shuffle(cs)]));
      expect(resolve(u, shuffle([...roots]))).toEqual(first);
    }
    expect(first.chosen).toEqual({ a: '1.1.0', b: '1.2.0', c: '1.0.0', d: '1.1.5' });
    // The shortcuts (model reuse, range pruning) save solver calls but never change the result.
    const plain = resolve(universe(spec), roots, { shortcuts: false });
    expect(plain.chosen).toEqual(first.chosen);
    expect(plain.stats.solverCalls).toBeGreaterThan(first.stats.solverCalls);
  });

  it('prefers given versions (an existing lock) while they remain possible', () => {
    const u = universe({
      a: { '1.0.0': { b: '^1' }, '1.1.0': { b: '^1' }, '2.0.0': { b: '^2' } },
      b: { '1.0.0': {}, '1.5.0': {}, '2.0.0': {} },
    });
    expect(resolve(u, [root('a', '^1')], { prefer: { a: '1.0.0', b: '1.0.0' } }).chosen).toEqual({
      a: '1.0.0',
      b: '1.0.0',
    });
    // A preferred version that no longer satisfies the roots gives way to the newest possible one.
    expect(resolve(u, [root('a', '^2')], { prefer: { a: '1.0.0', b: '1.0.0' } }).chosen).toEqual({
      a: '2.0.0',
      b: '2.0.0',
    });
    expect(resolve(u, [root('a', '^1')], { prefer: { b: '9.9.9' } }).chosen).toEqual({
      a: '1.1.0',
      b: '1.5.0',
    });
  });

  it('refuses the same version offered twice', () => {
    const u = new Map([
      [
        'a',
        [
          { version: '1.0.0', deps: {} },
          { version: '1.0.0', deps: {} },
        ],
      ],
    ]);
    expect(conflict(() => resolve(u, [root('a', '*')])).message).toBe('[E17] a 1.0.0 is offered twice');
  });

  it('is complete and sound on random small universes (checked by brute force)', () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * n);
    };
    const labels = ['a', 'b', 'c', 'd'];
    const ranges = ['^1', '^2', '1.x || 3.x', '>=2.0.0', '<2', '*', '=1.0.0', '^3'];
    let sat = 0;
    let unsat = 0;
    for (let round = 0; round < 100; round++) {
      const spec: Spec = {};
      for (const l of labels) {
        spec[l] = {};
        for (const v of ['1.0.0', '2.0.0', '3.0.0']) {
          if (rnd(4) === 0) continue;
          const deps: Record<string, string> = {};
          for (const d of labels) if (d > l && rnd(3) === 0) deps[d] = ranges[rnd(ranges.length)]!;
          spec[l]![v] = deps;
        }
      }
      const roots = [root('a', ranges[rnd(ranges.length)]!)];
      if (rnd(2)) roots.push(root(labels[1 + rnd(3)]!, ranges[rnd(ranges.length)]!, 'pin'));
      const u = universe(spec);
      const valid = (pick: Record<string, string>): boolean => {
        for (const r of roots)
          if (!(r.label in pick) || !semver.satisfies(pick[r.label]!, r.range)) return false;
        for (const [l, v] of Object.entries(pick))
          for (const [d, range] of Object.entries(spec[l]![v]!))
            if (!(d in pick) || !semver.satisfies(pick[d]!, range)) return false;
        return true;
      };
      // Brute force: every label either absent or one of its versions.
      let exists = false;
      const walk = (i: number, pick: Record<string, string>): void => {
        if (exists) return;
        if (i === labels.length) {
          exists = valid(pick);
          return;
        }
        const l = labels[i]!;
        walk(i + 1, pick);
        for (const v of Object.keys(spec[l]!)) walk(i + 1, { ...pick, [l]: v });
      };
      walk(0, {});
      let got: Record<string, string> | undefined;
      try {
        got = resolve(u, roots).chosen;
      } catch (e) {
        if (!(e instanceof ResolutionError)) throw e;
      }
      expect(got !== undefined, JSON.stringify({ spec, roots })).toBe(exists);
      if (got) {
        sat++;
        expect(valid(got)).toBe(true);
      } else unsat++;
    }
    expect(sat).toBeGreaterThan(15);
    expect(unsat).toBeGreaterThan(15);
  });

  it('visits each breadth-first level sorted as a whole, not per parent (specs/lock.md §7)', () => {
    // Level 1 is {y, z} (y from b, z from a). Sorted as a level, y is chosen first and takes its
    // newest (2.0.0, needing s ^2), which leaves z 1.0.0. Visiting each parent's children in turn
    // (a's z before b's y) would choose z 2.0.0, y 1.0.0, s 1.0.0 instead.
    const u = universe({
      a: { '1.0.0': { z: '*' } },
      b: { '1.0.0': { y: '*' } },
      y: { '1.0.0': { s: '^1' }, '2.0.0': { s: '^2' } },
      z: { '1.0.0': { s: '^2' }, '2.0.0': { s: '^1' } },
      s: { '1.0.0': {}, '2.0.0': {} },
    });
    const expected = { a: '1.0.0', b: '1.0.0', s: '2.0.0', y: '2.0.0', z: '1.0.0' };
    expect(resolve(u, [root('a', '*'), root('b', '*')]).chosen).toEqual(expected);
    expect(resolve(u, [root('a', '*'), root('b', '*')], { oracle: 'minisat' }).chosen).toEqual(expected);
  });

  it('chooses what a brute-force reference of the greedy pass chooses, on random universes (differential)', () => {
    // The reference is specs/lock.md §7 read literally: labels breadth-first from the roots, each
    // level sorted as a whole; for each label its preferred version, then the others newest first;
    // the first that some assignment (every label absent or one version) extending the choices so
    // far satisfies is committed. Satisfiability is by enumeration, so it shares no code with the
    // resolver. Every way of answering must agree with it: the one-search pass, the same pass past
    // its conflict budget (per-label queries), per-label queries without shortcuts, and MiniSat.
    let seed = 2026;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * n);
    };
    const ranges = [
      '^1',
      '^2',
      '~1.1',
      '>=1.1.0',
      '<2',
      '*',
      '*',
      '=1.0.0',
      '^3',
      '1.x || 3.x',
      '>=2.0.0 <3.0.0',
    ];
    const pool = ['1.0.0', '1.1.0', '2.0.0', '2.1.0', '3.0.0', '1.2.0-rc.1'];
    let sat = 0;
    let unsat = 0;
    let withConflicts = 0;
    let fellBack = 0;
    for (let round = 0; round < 100; round++) {
      const n = 3 + rnd(4);
      const labels = Array.from({ length: n }, (_, i) => String.fromCharCode(97 + i));
      const spec: Spec = {};
      labels.forEach((l, i) => {
        spec[l] = {};
        for (const v of pool) {
          if (rnd(5) < 2 || (v.includes('-') && rnd(2))) continue;
          const deps: Record<string, string> = {};
          for (let k = rnd(4); k > 0; k--) {
            // Mostly later labels, some back edges (cycles) and some with prereleases allowed.
            const d = rnd(4) === 0 ? labels[rnd(n)]! : labels[Math.min(n - 1, i + 1 + rnd(3))]!;
            if (d !== l) deps[d] = (rnd(8) === 0 ? 'pre:' : '') + ranges[rnd(ranges.length)]!;
          }
          spec[l]![v] = deps;
        }
      });
      const roots = [root(labels[0]!, ranges[rnd(ranges.length)]!)];
      for (let j = rnd(3); j > 0; j--)
        roots.push(root(labels[rnd(n)]!, ranges[rnd(ranges.length)]!, `r${j}`));
      const prefer = rnd(3) === 0 ? { [labels[rnd(n)]!]: pool[rnd(pool.length)]! } : undefined;
      const prerelease = rnd(6) === 0;
      const u = universe(spec);

      const memo = new Map<string, boolean>();
      const ok = (v: string, range: string, pre: boolean): boolean => {
        const key = `${v} ${pre} ${range}`;
        let yes = memo.get(key);
        if (yes === undefined)
          memo.set(key, (yes = semver.satisfies(v, range, { includePrerelease: pre || prerelease })));
        return yes;
      };
      const valid = (pick: Record<string, string>): boolean => {
        for (const r of roots) if (!(r.label in pick) || !ok(pick[r.label]!, r.range, false)) return false;
        for (const [l, v] of Object.entries(pick))
          for (const [d, r] of Object.entries(spec[l]![v]!)) {
            const pre = r.startsWith('pre:');
            if (!(d in pick) || !ok(pick[d]!, pre ? r.slice(4) : r, pre)) return false;
          }
        return true;
      };
      const models: Record<string, string>[] = [];
      const walk = (i: number, pick: Record<string, string>): void => {
        if (i === n) {
          if (valid(pick)) models.push({ ...pick });
          return;
        }
        walk(i + 1, pick);
        for (const v of Object.keys(spec[labels[i]!]!)) {
          pick[labels[i]!] = v;
          walk(i + 1, pick);
          delete pick[labels[i]!];
        }
      };
      walk(0, {});
      let expected: Record<string, string> | 'E17' = 'E17';
      if (models.length) {
        const chosen: Record<string, string> = {};
        const queued = new Set(roots.map((r) => r.label));
        let wave = [...queued].sort();
        while (wave.length) {
          const next: string[] = [];
          for (const l of wave) {
            const newest = Object.keys(spec[l]!).sort(semver.rcompare);
            const p = prefer?.[l];
            const tries =
              p !== undefined && newest.includes(p) ? [p, ...newest.filter((v) => v !== p)] : newest;
            const v = tries.find((t) =>
              models.some((m) => m[l] === t && Object.entries(chosen).every(([cl, cv]) => m[cl] === cv)),
            )!;
            chosen[l] = v;
            for (const d of Object.keys(spec[l]![v]!))
              if (!queued.has(d)) {
                queued.add(d);
                next.push(d);
              }
          }
          wave = next.sort();
        }
        expected = Object.fromEntries(Object.entries(chosen).sort(([a], [b]) => (a < b ? -1 : 1)));
      }

      const outcome = (
        o: ResolveOptions,
      ): { chosen: Record<string, string> | string; calls: number; conflicts: number } => {
        try {
          const r = resolve(u, roots, { prefer, prerelease, ...o });
          return { chosen: r.chosen, calls: r.stats.solverCalls, conflicts: r.stats.conflicts };
        } catch (e) {
          if (!(e instanceof ResolutionError)) throw e;
          return { chosen: `E17 ${e.message}`, calls: 0, conflicts: 0 };
        }
      };
      const context = JSON.stringify({ spec, roots, prefer, prerelease });
      const one = outcome({});
      if (expected === 'E17') {
        expect(one.chosen, context).toMatch(/^E17 \[E17\] /);
        unsat++;
      } else {
        expect(one.chosen, context).toEqual(expected);
        sat++;
      }
      // Every way gives the same choices, or the same explanation.
      expect(outcome({ oracle: 'minisat' }).chosen, context).toEqual(one.chosen);
      if (expected !== 'E17') expect(outcome({ shortcuts: false }).chosen, context).toEqual(one.chosen);
      const fallback = outcome({ conflictBudget: 0 });
      expect(fallback.chosen, context).toEqual(one.chosen);
      if (one.conflicts > 0) {
        withConflicts++;
        // Its first conflict ended the one-search pass: queries answered the tries.
        if (fallback.calls > 1) fellBack++;
      }
    }
    expect(sat).toBeGreaterThan(30);
    expect(unsat).toBeGreaterThan(30);
    // The one-search pass backjumped in some of them, and with no budget fell back to queries.
    expect(withConflicts).toBeGreaterThan(5);
    expect(fellBack).toBe(withConflicts);
  });

  it('chooses exactly what the MiniSat oracle chooses, on random universes (differential)', () => {
    let seed = 4242;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * n);
    };
    const ranges = ['^1', '^2', '^1.1', '~2.1', '>=2.0.0', '<2', '*', '=1.0.0', '^3', '1.x || 3.x'];
    const versions = ['1.0.0', '1.1.0', '1.2.0', '2.0.0', '2.1.0', '3.0.0'];
    let sat = 0;
    let unsat = 0;
    for (let round = 0; round < 40; round++) {
      const n = 6 + rnd(12);
      const labels = Array.from({ length: n }, (_, i) => `p${String(i).padStart(2, '0')}`);
      const spec: Spec = {};
      labels.forEach((l, i) => {
        spec[l] = {};
        for (const v of versions) {
          if (rnd(3) === 0) continue;
          const deps: Record<string, string> = {};
          const k = rnd(4);
          // Mostly forward edges, some back edges (cycles are the scheduler's concern, not the resolver's).
          for (let j = 0; j < k; j++) {
            const d = rnd(5) === 0 ? labels[rnd(n)]! : labels[Math.min(n - 1, i + 1 + rnd(6))]!;
            if (d !== l) deps[d] = ranges[rnd(ranges.length)]!;
          }
          spec[l]![v] = deps;
        }
      });
      const roots = [root(labels[0]!, ranges[rnd(ranges.length)]!)];
      for (let j = rnd(3); j > 0; j--)
        roots.push(root(labels[rnd(n)]!, ranges[rnd(ranges.length)]!, `r${j}`));
      const u = universe(spec);
      const prefer = rnd(3) === 0 ? { [labels[1]!]: versions[rnd(versions.length)]! } : undefined;
      const outcome = (oracle: 'search' | 'minisat'): unknown => {
        try {
          return resolve(u, roots, { oracle, prefer }).chosen;
        } catch (e) {
          if (!(e instanceof ResolutionError)) throw e;
          return `E17 ${e.message}`;
        }
      };
      const a = outcome('search');
      expect(a, JSON.stringify({ spec, roots, prefer })).toEqual(outcome('minisat'));
      if (typeof a === 'string') unsat++;
      else sat++;
    }
    expect(sat).toBeGreaterThan(10);
    expect(unsat).toBeGreaterThan(3);
  });
});

describe('resolve at size', () => {
  it('the one-search pass backjumps across levels and still chooses what per-label queries and MiniSat choose', () => {
    // Universes like bench/resolve's (forward edges, 0–4 ranges per version, pins below the newest
    // and upper bounds), smaller and tighter so that the one-search pass meets many conflicts;
    // some made unsatisfiable by two roots pinning one deep label apart (the same E17 each way).
    let seed = 99;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * n);
    };
    let conflicts = 0;
    let unsat = 0;
    for (let round = 0; round < 6; round++) {
      const n = 120;
      const label = (i: number): string => `q${String(i).padStart(3, '0')}`;
      const vers = Array.from({ length: n }, () => [
        ...new Set(Array.from({ length: 6 }, (_, i) => `${1 + (i >> 1)}.${i & 1}.${rnd(2)}`)),
      ]);
      const u = new Map<string, Candidate[]>();
      for (let i = 0; i < n; i++)
        u.set(
          label(i),
          vers[i]!.map((version) => {
            const deps: Candidate['deps'] = {};
            for (let k = rnd(5); k > 0 && i + 1 < n; k--) {
              const j = i + 1 + rnd(Math.min(12, n - i - 1));
              const [maj, min] = vers[j]![rnd(vers[j]!.length)]!.split('.');
              const kind = rnd(10);
              const range =
                kind < 4
                  ? `^${maj}.${min}`
                  : kind < 6
                    ? `=${vers[j]![rnd(vers[j]!.length)]}`
                    : kind < 8
                      ? `<${maj}.0.0 || ^${maj}.${min}`
                      : `~${maj}.${min}`;
              deps[label(j)] = { range, prerelease: false };
            }
            return { version, deps };
          }),
        );
      const roots: RootRequirement[] = Array.from({ length: 4 }, (_, i) => root(label(i), '*'));
      if (round % 3 === 2) {
        const deep = vers[60]!;
        roots.push(
          root(label(60), `=${deep[0]}`, 'pin-old'),
          root(label(60), `=${deep[deep.length - 1]}`, 'pin-new'),
        );
      }
      const outcome = (o: ResolveOptions): { chosen: Record<string, string> | string; conflicts: number } => {
        try {
          const r = resolve(u, roots, o);
          return { chosen: r.chosen, conflicts: r.stats.conflicts };
        } catch (e) {
          if (!(e instanceof ResolutionError)) throw e;
          return { chosen: `E17 ${e.message}`, conflicts: 0 };
        }
      };
      const one = outcome({});
      conflicts += one.conflicts;
      if (typeof one.chosen === 'string') unsat++;
      expect(outcome({ oracle: 'minisat' }).chosen, `round ${round}`).toEqual(one.chosen);
      expect(outcome({ conflictBudget: 0 }).chosen, `round ${round}`).toEqual(one.chosen);
      if (typeof one.chosen !== 'string') expect(outcome({ shortcuts: false }).chosen).toEqual(one.chosen);
    }
    expect(unsat).toBeGreaterThanOrEqual(2);
    expect(conflicts).toBeGreaterThan(10);
  });
});
