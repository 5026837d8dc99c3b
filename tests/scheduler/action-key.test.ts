import { describe, expect, it } from 'vitest';
import { digestBytes, encodeCanonical, type Digest } from '../../src/kernel/index.ts';
import {
  MemoryActionCache,
  VirtualClock,
  actionId,
  actionKeyObject,
  constructiveRebuilder,
  schedule,
  type ActionInputs,
  type SchedNode,
} from '../../scheduler/index.ts';

const D = digestBytes;

/** specs/action.md §3.1 */
const vectorInputs: ActionInputs = {
  atom: D('atom zlib 1.2.13'),
  recipe: D('recipe std.autotools'),
  args: { configureFlags: ['--static'], jobs: 4 },
  toolchain: D('toolchain'),
  seedMode: 'seeded',
  arch: 'x86_64-linux',
  deps: { openssl: D('openssl output'), zlib: D('zlib output') },
};

describe('action keys (specs/action.md)', () => {
  it('§3.1 vector: exact canonical bytes and action id', () => {
    expect(new TextDecoder().decode(encodeCanonical(actionKeyObject(vectorInputs)))).toBe(
      '{"arch":"x86_64-linux","args":{"configureFlags":["--static"],"jobs":4},' +
        '"atom":"blake3:488bfd2493c77c175fa60e0c5f0d900634564d37063003ede27665b0aa4176b1",' +
        '"deps":{"openssl":"blake3:f7573e21e91775be97efc99e5b58a43cd1f00f1c604ae0537ea9f91a85607f3d",' +
        '"zlib":"blake3:b5b147d06ae7c2938ff810a2a81df7247a36ab85f1f17f7002fc7501d8735dee"},' +
        '"format":"eos.action",' +
        '"recipe":"blake3:bae81eec32741e935504dcd9d69c2c3d4882a2792b9fb19f901e773e0ea65126",' +
        '"seedMode":"seeded",' +
        '"toolchain":"blake3:dd9765724d63cedb171573e96d87aad8c17ca281055f5b639c94761ea2da5c9e","version":1}',
    );
    expect(actionId(vectorInputs)).toBe(
      'blake3:e8d147b66e054af325e264e5087def26bd1d2b89d8d25f296d21e16f7216e17c',
    );
    expect(actionId({ ...vectorInputs, deps: {} })).toBe(
      'blake3:85a92b30b3e017e3c52ca78fb88f4c3f05c111d1acebae580a256671bb2ad690',
    );
  });

  it('is independent of key order and changes with every input', () => {
    const reordered: ActionInputs = {
      deps: { zlib: D('zlib output'), openssl: D('openssl output') },
      arch: 'x86_64-linux',
      seedMode: 'seeded',
      toolchain: D('toolchain'),
      args: { jobs: 4, configureFlags: ['--static'] },
      recipe: D('recipe std.autotools'),
      atom: D('atom zlib 1.2.13'),
    };
    expect(actionId(reordered)).toBe(actionId(vectorInputs));
    const variants: Partial<ActionInputs>[] = [
      { atom: D('atom zlib 1.3') },
      { recipe: D('recipe std.autotools edited') },
      { args: { configureFlags: [], jobs: 4 } },
      { toolchain: D('toolchain 2') },
      { seedMode: 'bootstrappable' },
      { arch: 'aarch64-linux' },
      { deps: { openssl: D('openssl output 2'), zlib: D('zlib output') } },
      { deps: { openssl: D('openssl output') } },
      { deps: { libssl: D('openssl output'), zlib: D('zlib output') } },
    ];
    const ids = new Set([
      actionId(vectorInputs),
      ...variants.map((v) => actionId({ ...vectorInputs, ...v })),
    ]);
    expect(ids.size).toBe(variants.length + 1);
  });

  it('rejects malformed inputs with located E2/E3 errors', () => {
    const bad: [Partial<ActionInputs>, string][] = [
      [{ atom: 'sha256:00' as Digest }, '[E2] action key: atom: "sha256:00" is not a digest'],
      [{ deps: { zlib: 'x' as Digest } }, '[E2] action key: output of dependency zlib: "x" is not a digest'],
      [
        { deps: { 'Bad Label': D('x') } },
        '[E3] action key: dependency label "Bad Label" is not a valid label',
      ],
      [{ seedMode: 'Seeded' }, '[E3] action key: seedMode "Seeded" is not a lowercase word'],
      [{ arch: '' }, '[E3] action key: arch "" is not a lowercase word'],
      [{ args: [] as never }, '[E3] action key: args must be a JSON object'],
      [{ args: { ratio: 0.5 } }, '[E3] $.args.ratio: 0.5 is not a safe integer'],
    ];
    for (const [v, msg] of bad) expect(() => actionId({ ...vectorInputs, ...v })).toThrow(msg);
  });
});

describe('early cutoff (real action keys, in-memory rebuilder)', () => {
  // zlib → openssl → curl, plus libpsl → curl. The executor's output depends only on what the
  // "source" of each atom contains, which an atom version bump may leave unchanged.
  interface Atom extends SchedNode {
    deps: string[];
  }
  const nodes: Atom[] = [
    { label: 'zlib', deps: [] },
    { label: 'libpsl', deps: [] },
    { label: 'openssl', deps: ['zlib'] },
    { label: 'curl', deps: ['openssl', 'zlib', 'libpsl'] },
  ];

  async function build(
    cache: MemoryActionCache,
    atoms: Record<string, string>,
    sources: Record<string, string>,
  ) {
    const clock = new VirtualClock();
    const built: string[] = [];
    const res = await clock.run(
      schedule({
        nodes,
        clock,
        jobs: 2,
        seedMode: 'seeded',
        key: (n, depOutputs) =>
          actionId({
            atom: D(atoms[n.label]!),
            recipe: D('std.autotools'),
            args: {},
            toolchain: D('debian-12 toolchain'),
            seedMode: 'seeded',
            arch: 'x86_64-linux',
            deps: { ...depOutputs },
          }),
        rebuilder: constructiveRebuilder(cache),
        executor: async (n, ctx) => {
          built.push(n.label);
          await clock.sleep(10, ctx.signal);
          const output = D(`${sources[n.label]} built against ${JSON.stringify(ctx.depOutputs)}`);
          return { output, world: D('world'), log: D(`log ${n.label}`) };
        },
      }),
    );
    const status = Object.fromEntries([...res.results].map(([k, r]) => [k, r.status]));
    return { built, status, res };
  }

  it('a dependency whose atom changes but whose output bytes do not leaves its dependents cached', async () => {
    const cache = new MemoryActionCache();
    const atoms = {
      zlib: 'zlib 1.2.13',
      libpsl: 'libpsl 0.21',
      openssl: 'openssl 3.0.20',
      curl: 'curl 7.88.1',
    };
    const sources = { zlib: 'zlib src', libpsl: 'psl src', openssl: 'openssl src', curl: 'curl src' };
    const first = await build(cache, atoms, sources);
    expect(first.built.sort()).toEqual(['curl', 'libpsl', 'openssl', 'zlib']);

    // zlib's atom changes (a new publish record: e.g. README edited) but it builds to the same bytes.
    const second = await build(cache, { ...atoms, zlib: 'zlib 1.2.13 (readme edited)' }, sources);
    expect(second.built).toEqual(['zlib']);
    expect(second.status).toEqual({ zlib: 'ok', libpsl: 'cached', openssl: 'cached', curl: 'cached' });
    expect(second.res.results.get('zlib')!.action).not.toBe(first.res.results.get('zlib')!.action);
    expect(second.res.results.get('curl')!.action).toBe(first.res.results.get('curl')!.action);

    // Now zlib's output really changes: everything downstream of it rebuilds, libpsl does not.
    const third = await build(cache, atoms, { ...sources, zlib: 'zlib src patched' });
    // Same zlib atom as the first run: still cached (constructive trace, output from the cache).
    expect(third.built).toEqual([]);
    const fourth = await build(
      cache,
      { ...atoms, zlib: 'zlib 1.2.14' },
      { ...sources, zlib: 'zlib src 1.2.14' },
    );
    expect(fourth.built.sort()).toEqual(['curl', 'openssl', 'zlib']);
    expect(fourth.status).toEqual({ zlib: 'ok', libpsl: 'cached', openssl: 'ok', curl: 'ok' });
  });
});
