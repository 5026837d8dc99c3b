/**
 * The swap on gcc-built fixtures: a program linked against `libfoo.so.1` (version nodes FOO_1.0 and
 * FOO_2.0, a data object copied into the program by a copy relocation) in a composition with the
 * host's C library. Each replacement library is swapped in with `eos swap`; its verdict is compared
 * with what actually happens when the program runs against it inside the new composition
 * (`eos run`): a covered swap must run exactly as before, a refused one must not. Refusals write
 * nothing; `--force --reason` writes an override that `eos compose verify` reports; a proof that is
 * missing or does not match its composition is named (E30, E31).
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Store, digestHex, type Digest } from '../../src/kernel/index.ts';
import { CompositionStore, checkSwaps, makeComposition, parseComposition } from '../../composer/index.ts';
import { eos, eosIn, tempDir } from './helpers.ts';

const base = tempDir('eos-swap-');
const ws = { store: join(base, 'store'), config: join(base, 'config'), cwd: base };
const LIBDIR = 'usr/lib/x86_64-linux-gnu';
let store: Store;
let cs: CompositionStore;
let root: Digest;
let baseline: string;

const FOO_V1 = {
  code: 'int foo_table[4] = {1, 2, 3, 4};\nint foo_a(int x){return x+1;}\nint foo_b(int x){return x+2;}\nint foo_c(int x){return x+3;}\n',
  map: 'FOO_1.0 { global: foo_a; foo_b; foo_table; local: *; };\nFOO_2.0 { global: foo_c; } FOO_1.0;\n',
};

/** Builds `libfoo` into DIR/usr/lib/x86_64-linux-gnu/FILE with gcc (no version script when map is null). */
function buildFoo(
  dir: string,
  v: { code: string; map: string | null; soname?: string; file?: string },
): string {
  const src = join(base, 'src');
  mkdirSync(src, { recursive: true });
  mkdirSync(join(dir, LIBDIR), { recursive: true });
  const c = join(src, 'foo.c');
  writeFileSync(c, v.code);
  const args = ['-shared', '-fPIC', '-O1', '-o', join(dir, LIBDIR, v.file ?? 'libfoo.so.1'), c];
  args.push(`-Wl,-soname,${v.soname ?? 'libfoo.so.1'}`);
  if (v.map !== null) {
    writeFileSync(join(src, 'foo.map'), v.map);
    args.push(`-Wl,--version-script=${join(src, 'foo.map')}`);
  }
  execFileSync('gcc', args);
  return dir;
}

/** The replacement libraries: [name, library, covers, the failed items expected]. */
const VARIANTS: [
  string,
  { code: string; map: string | null; soname?: string; file?: string },
  boolean,
  string[],
][] = [
  [
    'patched (same interface, new code)',
    {
      code:
        FOO_V1.code.replace('return x+2;', 'int y = x; return y + 2;') + 'const char foo_fix[] = "fixed";\n',
      map: FOO_V1.map,
    },
    true,
    [],
  ],
  [
    'new symbol added',
    {
      code: FOO_V1.code + 'int foo_d(int x){return x+4;}\n',
      map: FOO_V1.map + 'FOO_3.0 { global: foo_d; } FOO_2.0;\n',
    },
    true,
    [],
  ],
  [
    'dropped symbol',
    {
      code: FOO_V1.code.replace('int foo_b(int x){return x+2;}\n', ''),
      map: FOO_V1.map.replace(' foo_b;', ''),
    },
    false,
    ['foo_b@FOO_1.0: absent'],
  ],
  [
    'symbol moved to another version node',
    {
      code: FOO_V1.code + 'int foo_other(int x){return x;}\n',
      map: 'FOO_1.0 { global: foo_a; foo_b; foo_c; foo_table; local: *; };\nFOO_2.0 { global: foo_other; } FOO_1.0;\n',
    },
    false,
    ['foo_c@FOO_2.0: absent (now foo_c@@FOO_1.0)'],
  ],
  [
    'version node removed',
    { code: FOO_V1.code, map: 'FOO_1.0 { global: foo_a; foo_b; foo_c; foo_table; local: *; };\n' },
    false,
    ['foo_c@FOO_2.0: version node FOO_2.0 absent', 'version FOO_2.0: absent'],
  ],
  [
    'unversioned rebuild of a versioned library',
    { code: FOO_V1.code, map: null },
    false,
    [
      'foo_a@FOO_1.0: version node FOO_1.0 absent',
      'foo_b@FOO_1.0: version node FOO_1.0 absent',
      'foo_c@FOO_2.0: version node FOO_2.0 absent',
      'foo_table@FOO_1.0: version node FOO_1.0 absent',
      'version FOO_1.0: absent',
      'version FOO_2.0: absent',
    ],
  ],
  [
    'data object size changed',
    {
      code: FOO_V1.code.replace('foo_table[4] = {1, 2, 3, 4}', 'foo_table[8] = {1, 2, 3, 4, 5, 6, 7, 8}'),
      map: FOO_V1.map,
    },
    false,
    ['foo_table@FOO_1.0: size 16 → 32'],
  ],
  [
    'changed soname',
    { code: FOO_V1.code, map: FOO_V1.map, soname: 'libfoo.so.2', file: 'libfoo.so.2' },
    false,
    ['soname libfoo.so.1: not found', 'foo_a@FOO_1.0: soname libfoo.so.1 not provided'],
  ],
];

/** Runs the program inside a composition: exit status, stdout, and stderr without eos's own notes. */
function runApp(r: Digest): { code: number; stdout: string; stderr: string } {
  const x = eos(ws, ['run', r, '--', '/usr/bin/app']);
  const stderr = x.stderr
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('eos: '))
    .join('\n');
  return { code: x.code, stdout: x.stdout, stderr };
}

function rootsCount(): number {
  return readdirSync(join(ws.store, 'roots')).length;
}

beforeAll(async () => {
  mkdirSync(ws.config, { recursive: true });
  store = new Store(ws.store);
  cs = new CompositionStore(store);
  // libc: the host's C library and loader, merged-/usr links.
  const libc = join(base, 'pkgs', 'libc');
  mkdirSync(join(libc, LIBDIR), { recursive: true });
  mkdirSync(join(libc, 'usr/lib64'), { recursive: true });
  for (const f of ['libc.so.6', 'ld-linux-x86-64.so.2'])
    copyFileSync(join('/lib/x86_64-linux-gnu', f), join(libc, LIBDIR, f));
  for (const [at, to] of [
    ['bin', 'usr/bin'],
    ['lib', 'usr/lib'],
    ['lib64', 'usr/lib64'],
    ['usr/lib64/ld-linux-x86-64.so.2', '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'],
  ])
    symlinkSync(to!, join(libc, at!));
  const foo = buildFoo(join(base, 'pkgs', 'foo'), { ...FOO_V1 });
  // app: not PIE, so foo_table is copied into it by a copy relocation.
  const app = join(base, 'pkgs', 'app');
  mkdirSync(join(app, 'usr/bin'), { recursive: true });
  writeFileSync(
    join(base, 'src', 'app.c'),
    '#include <stdio.h>\nextern int foo_table[4];\nint foo_a(int);int foo_b(int);int foo_c(int);\n' +
      'int main(void){printf("%d %d %d %d\\n", foo_a(1), foo_b(1), foo_c(1), foo_table[0]+foo_table[1]+foo_table[2]+foo_table[3]);return 0;}\n',
  );
  execFileSync('gcc', [
    '-O1',
    '-no-pie',
    '-o',
    join(app, 'usr/bin/app'),
    join(base, 'src', 'app.c'),
    `-L${join(foo, LIBDIR)}`,
    '-l:libfoo.so.1',
  ]);
  // plugin-host: loads libfoo.so.1 with dlopen (no DT_NEEDED on it): listed as unchecked.
  const host = join(base, 'pkgs', 'plugin-host');
  mkdirSync(join(host, 'usr/bin'), { recursive: true });
  writeFileSync(
    join(base, 'src', 'host.c'),
    '#include <dlfcn.h>\nint main(void){return dlopen("libfoo.so.1", RTLD_NOW) ? 0 : 1;}\n',
  );
  execFileSync('gcc', ['-O1', '-o', join(host, 'usr/bin/plugin-host'), join(base, 'src', 'host.c')]);
  const entries: Record<string, unknown> = {};
  for (const [name, dir] of [
    ['libc', libc],
    ['foo', foo],
    ['app', app],
    ['plugin-host', host],
  ] as const) {
    const t = (await store.ingest(dir)).digest;
    entries[name] = { at: '/', node: { kind: 'tree', digest: t }, constraint: { kind: 'exact', digest: t } };
  }
  root = (await cs.save(makeComposition({ version: 1, entries, precedence: [] }))).root;
  execFileSync(process.execPath, [join(import.meta.dirname, '../../bin/eos.mjs'), 'key', 'generate', 'k'], {
    env: { ...process.env, EOS_STORE: ws.store, EOS_CONFIG_DIR: ws.config },
  });
  expect(eos(ws, ['key', 'trust', 'k', '--for', 'compositions']).code).toBe(0);
  const b = runApp(root);
  expect(b).toEqual({ code: 0, stdout: '2 3 4 10\n', stderr: '' });
  baseline = b.stdout;
}, 120_000);

describe('eos swap on fixture libraries: each verdict agrees with running the program', () => {
  for (const [i, [title, lib, covers, failures]] of VARIANTS.entries()) {
    it(`${title}: ${covers ? 'covers' : 'does not cover'}`, async () => {
      const dir = buildFoo(join(base, 'variants', String(i)), lib);
      const before = rootsCount();
      const r = await eosIn(ws, ['swap', root, `foo=${dir}`]);
      if (covers) {
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        const lines = r.stdout.trim().split('\n');
        const newRoot = lines[0]!.split('\t')[1] as Digest;
        expect(lines[0]).toBe(`root\t${newRoot}`);
        expect(lines[1]).toMatch(/^proof\tblake3:[0-9a-f]{64}\tcovered\t1 consumer\(s\)\t4 symbol\(s\)$/);
        expect(lines).toContain('consumer\t/usr/bin/app\tlibfoo.so.1\t4 symbol(s)');
        expect(lines).toContain('unchecked\t/usr/bin/plugin-host\tlibfoo.so.1\tdlopen user, not checked');
        expect(lines).toContain('changed\tfoo');
        expect(lines).toContain(`~\t/${LIBDIR}/libfoo.so.1`);
        const c = await cs.load(newRoot);
        expect(c.version).toBe(2);
        const pinned = ((await cs.load(root)).entries['foo']!.constraint as { digest: Digest }).digest;
        expect(c.entries['foo']!.constraint).toMatchObject({ kind: 'satisfies', pinned });
        expect((await checkSwaps(cs, newRoot)).map((s) => [s.entry, s.kind, s.verdict])).toEqual([
          ['foo', 'satisfies', 'covered'],
        ]);
        expect(runApp(newRoot)).toEqual({ code: 0, stdout: baseline, stderr: '' });
        expect(runApp(root)).toEqual({ code: 0, stdout: baseline, stderr: '' }); // the old root is untouched
      } else {
        if (r.code !== 3) console.log(r.stdout, r.stderr);
        expect(r.code).toBe(3);
        expect(r.stderr).toMatch(
          /^eos: \[E32\] foo: blake3:[0-9a-f]{64} does not cover 1 consumer\(s\): \/usr\/bin\/app needs /,
        );
        const missing = r.stdout
          .trim()
          .split('\n')
          .map((l) => l.split('\t'))
          .map(([kind, consumer, , item, why]) =>
            kind === 'missing' && consumer === '/usr/bin/app' ? `${item}: ${why}` : `? ${kind}`,
          );
        for (const f of failures) expect(missing).toContain(f);
        expect(rootsCount()).toBe(before); // nothing written
        // Forced, the override is written; the program, run against it, does not behave as before.
        const forced = await eosIn(ws, [
          'swap',
          root,
          `foo=${dir}`,
          '--force',
          '--reason',
          `test: ${title}`,
          '--sign-key',
          'k',
        ]);
        expect(forced.code).toBe(0);
        expect(forced.stderr).toMatch(/WARNING: OVERRIDE: foo does NOT cover/);
        const forcedRoot = forced.stdout.split('\n')[0]!.split('\t')[1] as Digest;
        expect((await cs.load(forcedRoot)).entries['foo']!.constraint).toMatchObject({
          kind: 'override',
          reason: `test: ${title}`,
        });
        const ran = runApp(forcedRoot);
        expect(ran.code !== 0 || ran.stdout !== baseline || ran.stderr !== '').toBe(true);
        const v = await eosIn(ws, ['compose', 'verify', forcedRoot]);
        expect(v.code).toBe(3); // the override is flagged even before signatures are looked at
        expect(v.stdout).toMatch(
          new RegExp(`^OVERRIDE\\tfoo\\tblake3:[0-9a-f]{64}\\treason "test: ${title}"\\tnot covered`, 'm'),
        );
        expect(v.stderr).toMatch(/WARNING: entry foo is an OVERRIDE/);
      }
    }, 60_000);
  }
});

describe('eos swap: signing, images, verify, and proofs that do not hold', () => {
  let swapped: Digest;
  let proof: Digest;
  beforeAll(async () => {
    const dir = buildFoo(join(base, 'signed'), {
      ...FOO_V1,
      code: FOO_V1.code + 'int foo_e(void){return 5;}\n',
      map: FOO_V1.map + 'FOO_3.0 { global: foo_e; } FOO_2.0;\n',
    });
    const img = join(base, 'swapped.cfs');
    const r = await eosIn(ws, ['swap', root, `foo=${dir}`, '--sign-key', 'k', '--image', img]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    swapped = r.stdout.split('\n')[0]!.split('\t')[1] as Digest;
    proof = r.stdout.split('\n')[1]!.split('\t')[1] as Digest;
    expect(r.stdout).toContain(`signed\t${swapped}\t`);
    expect(r.stdout).toMatch(new RegExp(`^image\\t${img}\\t\\d+\\t${swapped}$`, 'm'));
  }, 60_000);

  it('eos compose verify re-proves the swap, then checks the signature', async () => {
    const v = await eosIn(ws, ['compose', 'verify', swapped]);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(
      new RegExp(`^satisfies\\tfoo\\t${proof}\\tcovered\\t1 consumer\\(s\\)\\t4 symbol\\(s\\)$`, 'm'),
    );
    expect(v.stdout).toMatch(/^ok\tblake3:/m);
    // the proof and the pinned node are kept by the composition's one pin tree
    const hex = digestHex(swapped);
    const pin = readFileSync(join(ws.store, 'roots', `composition-${hex}`), 'utf8').trim() as Digest;
    const names = (await cs.store.getTree(pin)).entries.map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['composition', 'node.foo', 'proof.foo', 'pinned.foo']));
  });

  it('swapping back to the pinned node gives the original composition (exact, no proof)', async () => {
    const pinned = ((await cs.load(root)).entries['foo']!.constraint as { digest: Digest }).digest;
    const r = await eosIn(ws, ['swap', swapped, `foo=${pinned}`]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe(`root\t${root}`);
  });

  it('a proof that does not match its composition is E31; one missing from the store is E30', async () => {
    const c = await cs.load(swapped);
    const e = c.entries['foo']!;
    // The same proof bound to another node (the first variant) does not match.
    const other = (
      await store.ingest(buildFoo(join(base, 'other'), { ...FOO_V1, code: FOO_V1.code + 'int foo_z;\n' }))
    ).digest;
    const forged = makeComposition({
      ...c,
      entries: { ...c.entries, foo: { ...e, node: { kind: 'tree', digest: other } } },
    });
    const forgedRoot = (await cs.save(forged)).root;
    const v = await eosIn(ws, ['compose', 'verify', forgedRoot]);
    expect(v.code).toBe(1);
    expect(v.stderr).toMatch(
      /^eos: \[E31\] composition blake3:[0-9a-f]{64}: entry foo: the proof is for entry foo /,
    );
    expect((await eosIn(ws, ['run', forgedRoot, '--', '/usr/bin/app'])).stderr).toMatch(/\[E31\]/);
    // A proof blob that is gone: copy the composition into a fresh store without it.
    const ws2 = { ...ws, store: join(base, 'store2') };
    const s2 = new Store(ws2.store);
    const cs2 = new CompositionStore(s2);
    for (const n of Object.values(c.entries))
      if (n.node.kind === 'tree') await copyTree(store, s2, n.node.digest);
    await copyTree(store, s2, (e.constraint as { pinned: Digest }).pinned);
    const r2 = (await cs2.save(parseComposition(await store.readBlob(swapped)))).root;
    expect(r2).toBe(swapped);
    const v2 = await eosIn(ws2, ['compose', 'verify', swapped]);
    expect(v2.code).toBe(1);
    expect(v2.stderr).toMatch(
      /^eos: \[E30\] composition blake3:[0-9a-f]{64}: entry foo: swap proof blake3:[0-9a-f]{64} is not in the store/,
    );
  });
});

/** Copies a tree (and its blobs) from one store to another through export and ingest. */
async function copyTree(from: Store, to: Store, tree: Digest): Promise<void> {
  const dir = join(base, 'copy-' + digestHex(tree).slice(0, 8));
  rmSync(dir, { recursive: true, force: true });
  await from.materialize(tree, dir);
  const d = (await to.ingest(dir)).digest;
  expect(d).toBe(tree);
}
