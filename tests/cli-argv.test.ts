// The argv mapping of src/cli/main.ts: each command line reaches the right command module with
// the right options object (one block per command group; add a block when a command group lands). The command modules are mocked (their own tests run them for real);
// main.ts, commander and the option plumbing are real.
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { main } from '../src/cli/main.ts';
import { storeDir } from '../src/kernel/index.ts';

const ok = async () => ({});
vi.mock('../src/cli/key-generate.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/key-list.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/key-export.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/key-import.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/key-trust.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/key-untrust.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/sign.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/verify-signature.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/store-add.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/store-cat.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/store-ls.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/store-export.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/store-verify.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/store-gc.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/store-stats.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/store-root.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/seed.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/build-atom.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/fetch.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/compose.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/compose-show.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/compose-diff.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/compose-sign.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/compose-verify.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/image.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/run.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/mount.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/umount.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/interface.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/interface-check.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/atom-claim.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/atom-publish.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/atom-verify.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/atom-list.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/lock.ts', () => ({ run: vi.fn(ok) }));
vi.mock('../src/cli/build.ts', () => ({ run: vi.fn(ok) }));

const modules = {
  'key-generate': () => import('../src/cli/key-generate.ts'),
  'key-list': () => import('../src/cli/key-list.ts'),
  'key-export': () => import('../src/cli/key-export.ts'),
  'key-import': () => import('../src/cli/key-import.ts'),
  'key-trust': () => import('../src/cli/key-trust.ts'),
  'key-untrust': () => import('../src/cli/key-untrust.ts'),
  sign: () => import('../src/cli/sign.ts'),
  'verify-signature': () => import('../src/cli/verify-signature.ts'),
  'store-add': () => import('../src/cli/store-add.ts'),
  'store-cat': () => import('../src/cli/store-cat.ts'),
  'store-ls': () => import('../src/cli/store-ls.ts'),
  'store-export': () => import('../src/cli/store-export.ts'),
  'store-verify': () => import('../src/cli/store-verify.ts'),
  'store-gc': () => import('../src/cli/store-gc.ts'),
  'store-stats': () => import('../src/cli/store-stats.ts'),
  'store-root': () => import('../src/cli/store-root.ts'),
  seed: () => import('../src/cli/seed.ts'),
  'build-atom': () => import('../src/cli/build-atom.ts'),
  fetch: () => import('../src/cli/fetch.ts'),
  compose: () => import('../src/cli/compose.ts'),
  'compose-show': () => import('../src/cli/compose-show.ts'),
  'compose-diff': () => import('../src/cli/compose-diff.ts'),
  'compose-sign': () => import('../src/cli/compose-sign.ts'),
  'compose-verify': () => import('../src/cli/compose-verify.ts'),
  image: () => import('../src/cli/image.ts'),
  run: () => import('../src/cli/run.ts'),
  mount: () => import('../src/cli/mount.ts'),
  umount: () => import('../src/cli/umount.ts'),
  interface: () => import('../src/cli/interface.ts'),
  'interface-check': () => import('../src/cli/interface-check.ts'),
  'atom-claim': () => import('../src/cli/atom-claim.ts'),
  'atom-publish': () => import('../src/cli/atom-publish.ts'),
  'atom-verify': () => import('../src/cli/atom-verify.ts'),
  'atom-list': () => import('../src/cli/atom-list.ts'),
  lock: () => import('../src/cli/lock.ts'),
  build: () => import('../src/cli/build.ts'),
};
type Module = keyof typeof modules;

const D = 'blake3:' + 'ab'.repeat(32);
const K = 'blake3:' + 'cd'.repeat(32);
const store = storeDir(undefined);

let stderr: MockInstance;
let stdout: MockInstance;
beforeEach(() => {
  stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function runs(argv: string[]): Promise<{ code: number; module?: Module; opts?: unknown }> {
  for (const load of Object.values(modules)) vi.mocked((await load()).run).mockClear();
  const code = await main(['node', 'eos', ...argv]);
  let found: { module: Module; opts: unknown } | undefined;
  for (const [name, load] of Object.entries(modules) as [Module, (typeof modules)[Module]][]) {
    const calls = vi.mocked((await load()).run).mock.calls;
    expect(calls.length, name).toBeLessThanOrEqual(1);
    if (calls.length) {
      expect(found, 'only one command runs').toBeUndefined();
      found = { module: name, opts: calls[0]![0] };
    }
  }
  return { code, ...found };
}

describe('main.ts argv mapping', () => {
  const cases: [string[], Module, Record<string, unknown>][] = [
    [['key', 'generate', 'alice'], 'key-generate', { name: 'alice' }],
    [['key', 'list'], 'key-list', {}],
    [['--json', 'key', 'list'], 'key-list', { json: true }],
    [['key', 'list', '--json'], 'key-list', { json: true }],
    [['key', 'export', 'alice'], 'key-export', { name: 'alice' }],
    [['key', 'import', '-'], 'key-import', { file: '-' }],
    [['key', 'import', 'a.pub', '--name', 'bob'], 'key-import', { file: 'a.pub', name: 'bob' }],
    [['key', 'trust', 'alice', '--for', 'atoms,builds'], 'key-trust', { key: 'alice', for: 'atoms,builds' }],
    [['key', 'untrust', K, '--for', 'deploy'], 'key-untrust', { key: K, for: 'deploy' }],
    [['sign', D, '--key', 'alice', '--for', 'builds'], 'sign', { digest: D, key: 'alice', for: 'builds' }],
    [
      ['verify-signature', D, 'sig.json', '--for', 'deploy'],
      'verify-signature',
      { digest: D, file: 'sig.json', for: 'deploy' },
    ],
    [['--store', '/tmp/s', 'key', 'list'], 'key-list', { store: '/tmp/s' }],
    [['store', 'add', 'dir'], 'store-add', { path: 'dir' }],
    [['store', 'add', 'dir', '--root', 'r1'], 'store-add', { path: 'dir', root: 'r1' }],
    [['--store', '/tmp/s', 'store', 'cat', D], 'store-cat', { store: '/tmp/s', digest: D }],
    [['store', 'ls', D, '--json'], 'store-ls', { digest: D, json: true }],
    [['store', 'export', D, 'out'], 'store-export', { digest: D, dir: 'out' }],
    [['store', 'export', D, 'out', '--copy'], 'store-export', { digest: D, dir: 'out', copy: true }],
    [['store', 'verify'], 'store-verify', {}],
    [['store', 'verify', '--repair'], 'store-verify', { repair: true }],
    [['store', 'gc', '--grace', '0'], 'store-gc', { grace: '0' }],
    [['store', 'stats'], 'store-stats', {}],
    [['store', 'root', 'add', 'r1', D], 'store-root', { op: 'add', name: 'r1', digest: D }],
    [['store', 'root', 'rm', 'r1'], 'store-root', { op: 'rm', name: 'r1' }],
    [['store', 'root', 'ls'], 'store-root', { op: 'ls' }],
    [['seed'], 'seed', { lock: 'seed.lock', action: undefined }],
    [
      ['seed', '--mode', 'host', '--lock', 's.lock'],
      'seed',
      { lock: 's.lock', mode: 'host', action: undefined },
    ],
    [
      ['seed', '--package', 'make', '--package', 'dash'],
      'seed',
      { lock: 'seed.lock', package: ['make', 'dash'], action: undefined },
    ],
    [['seed', 'update', '--mode', 'debian'], 'seed', { lock: 'seed.lock', mode: 'debian', action: 'update' }],
    [['build-atom', 'atoms/zlib'], 'build-atom', { path: 'atoms/zlib', seedLock: 'seed.lock' }],
    [
      ['fetch', 'examples/npm-hello', '--record', '--env', 'npm_config_registry=R', '--seed-lock', 's.lock'],
      'fetch',
      { path: 'examples/npm-hello', record: true, env: ['npm_config_registry=R'], seedLock: 's.lock' },
    ],
    [['fetch', 'a', '--replay'], 'fetch', { path: 'a', replay: true, seedLock: 'seed.lock' }],
    [
      [
        'build-atom',
        'a',
        '--recipe',
        'std.make',
        '--args',
        '{"make-flags":["X=1"]}',
        '--dep',
        `z=${D}`,
        '--sign-key',
        'b',
      ],
      'build-atom',
      {
        path: 'a',
        seedLock: 'seed.lock',
        recipe: 'std.make',
        args: '{"make-flags":["X=1"]}',
        dep: [`z=${D}`],
        signKey: 'b',
      },
    ],
    [['compose', 'w.toml'], 'compose', { file: 'w.toml' }],
    [['compose', 'show', D], 'compose-show', { root: D }],
    [['compose', 'diff', D, K], 'compose-diff', { a: D, b: K }],
    [['compose', 'sign', D, '--key', 'ci'], 'compose-sign', { root: D, key: 'ci' }],
    [['compose', 'verify', D, '--for', 'deploy'], 'compose-verify', { root: D, for: 'deploy' }],
    [['image', '--from-dump', 'a.dump', '-o', 'a.cfs'], 'image', { fromDump: 'a.dump', output: 'a.cfs' }],
    [
      ['image', '--from-dump', 'a.dump.gz', '--output', 'a.cfs', '--min-version', '1', '--max-version', '1'],
      'image',
      { fromDump: 'a.dump.gz', output: 'a.cfs', minVersion: '1', maxVersion: '1' },
    ],
    [['image', '--dump', 'a.cfs'], 'image', { dump: 'a.cfs' }],
    [['image', D, '-o', 'w.cfs'], 'image', { root: D, output: 'w.cfs' }],
    [['run', D, '--', 'sh', '-c', 'ls /'], 'run', { root: D, cmd: ['sh', '-c', 'ls /'] }],
    [['run', D, '--cwd', '--', 'ls', '-l'], 'run', { root: D, cwd: true, cmd: ['ls', '-l'] }],
    [['mount', D, 'mnt'], 'mount', { root: D, dir: 'mnt' }],
    [['umount', 'mnt'], 'umount', { dir: 'mnt' }],
    [
      ['image', '--from-dir', 'd', '-o', 'a.cfs', '--objects', 'objs'],
      'image',
      { fromDir: 'd', output: 'a.cfs', objects: 'objs' },
    ],
    [['interface', 'lib/libssl.so.3'], 'interface', { path: 'lib/libssl.so.3' }],
    [['interface', 'tree', '--json'], 'interface', { path: 'tree', json: true }],
    [['build'], 'build', {}],
    [
      ['build', 'app/eos.lock', '-j', '4', '--only', 'curl,zlib', '--dry-run'],
      'build',
      { lock: 'app/eos.lock', jobs: '4', only: 'curl,zlib', dryRun: true },
    ],
    [
      ['build', '--check', '--seed-lock', 's.lock', '--json'],
      'build',
      { check: true, seedLock: 's.lock', json: true },
    ],
    [['interface', 'site-packages', '--python'], 'interface', { path: 'site-packages', python: true }],
    [
      ['interface', 'check', '--old', 'a', '--new', 'b', '--consumers', 'c,d'],
      'interface-check',
      { old: 'a', new: 'b', consumers: 'c,d' },
    ],
    [['atom', 'claim', 'zlib', '--key', 'alice'], 'atom-claim', { label: 'zlib', key: 'alice' }],
    [
      ['atom', 'claim', 'zlib', '--key', 'alice', '--repo', 'r'],
      'atom-claim',
      { label: 'zlib', key: 'alice', repo: 'r' },
    ],
    [['atom', 'publish', '--key', 'alice'], 'atom-publish', { path: undefined, key: 'alice' }],
    [['atom', 'publish', 'zlib', '--key', 'alice'], 'atom-publish', { path: 'zlib', key: 'alice' }],
    [['atom', 'verify'], 'atom-verify', { atom: undefined }],
    [
      ['atom', 'verify', 'zlib@1.3.1', '--repo', 'file:///r'],
      'atom-verify',
      { atom: 'zlib@1.3.1', repo: 'file:///r' },
    ],
    [['atom', 'list', '--repo', 'r'], 'atom-list', { repo: 'r' }],
    [['lock'], 'lock', {}],
    [
      ['lock', '--set', 'a=file:///a', '--set', 'b=../b', '--update', 'zlib', '--prerelease'],
      'lock',
      { set: ['a=file:///a', 'b=../b'], update: ['zlib'], prerelease: true },
    ],
    [['lock', '--check', '--dir', 'ws'], 'lock', { check: true, dir: 'ws' }],
  ];
  it.each(cases)('%j → %s', async (argv, module, expected) => {
    const r = await runs(argv);
    expect(r.code).toBe(0);
    expect(r.module).toBe(module);
    const { emit, ...opts } = r.opts as { emit?: unknown };
    expect(typeof emit).toBe('function'); // main.ts's live stdout sink
    expect(opts).toEqual({ store, json: false, ...expected });
  });

  it('missing arguments and required options are usage errors (exit 2), and nothing runs', async () => {
    for (const argv of [
      ['key', 'generate'],
      ['key', 'trust', 'alice'],
      ['sign', D, '--for', 'builds'],
      ['sign', D, '--key', 'alice'],
      ['verify-signature', D, '--for', 'builds'],
      ['key', 'frobnicate'],
      ['store', 'add'],
      ['store', 'export', D],
      ['store', 'root', 'add', 'r1'],
      ['build-atom'],
      ['seed', '--lock'],
      ['interface', 'check', '--old', 'a', '--new', 'b'],
      ['atom', 'claim', 'zlib'],
      ['atom', 'publish'],
      ['lock', '--set'],
    ]) {
      const r = await runs(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.module, argv.join(' ')).toBeUndefined();
    }
    expect(stderr).toHaveBeenCalled();
    void stdout;
  });

  describe('usage errors at the edge', () => {
    it("commander's own usage errors print [E1] (exit 2) and a JSON error document under --json", async () => {
      const said = () => stderr.mock.calls.map((c) => String(c[0])).join('');
      expect((await runs(['store', 'add', '--bogus', 'x'])).code).toBe(2);
      expect(said()).toMatch(/^eos: \[E1\] unknown option '--bogus'/m);
      stderr.mockClear();
      expect((await runs(['key', 'generate'])).code).toBe(2);
      expect(said()).toMatch(/^eos: \[E1\] missing required argument 'name'/m);
      stdout.mockClear();
      expect((await runs(['--json', 'store', 'add'])).code).toBe(2);
      const doc = JSON.parse(stdout.mock.calls.map((c) => String(c[0])).join('')) as {
        error: { code: string; message: string };
      };
      expect(doc.error.code).toBe('E1');
      expect(doc.error.message).toMatch(/^\[E1\] missing required argument/);
    });
  });
});
