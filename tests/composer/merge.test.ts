import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CompositionError, Store, digestBytes, type Digest } from '../../src/kernel/index.ts';
import {
  MemoryTrees,
  storeAccess,
  type TreeAccess,
  diffEntries,
  diffViews,
  listView,
  makeComposition,
  mergeComposition,
  mergeOnto,
  nodeDigest,
  subtreeEntries,
  type EntryNode,
  type MergedView,
  type ViewEntry,
} from '../../composer/index.ts';

/**
 * Where the trees live: the composer's memory backend, or a real filesystem store (specs/store.md).
 * `putBlob` is synchronous for the tests' convenience; the store's writes settle before any read.
 */
interface Backend extends TreeAccess {
  putBlob(s: string): Digest;
  blobs: Map<Digest, Uint8Array>;
  objectCount(): Promise<number>;
}

function memoryBackend(): Backend {
  const m = new MemoryTrees();
  return Object.assign(m, { objectCount: async () => m.blobs.size + m.trees.size }) as unknown as Backend;
}

function storeBackend(): Backend {
  const store = new Store(mkdtempSync(join(tmpdir(), 'eos-merge-store-')));
  const access = storeAccess(store);
  let pending: Promise<unknown>[] = [];
  const settle = async () => {
    await Promise.all(pending);
    pending = [];
  };
  const blobs = new Map<Digest, Uint8Array>();
  const count = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce(
      (n, e) => n + (e.isDirectory() ? count(join(dir, e.name)) : 1),
      0,
    );
  return {
    blobs,
    putBlob(s) {
      const b = new TextEncoder().encode(s);
      const d = digestBytes(b);
      blobs.set(d, b);
      pending.push(store.putBlob(b));
      return d;
    },
    getTree: async (d) => (await settle(), access.getTree(d)),
    putTree: async (t) => (await settle(), access.putTree(t)),
    blobSize: async (d) => (await settle(), access.blobSize(d)),
    objectCount: async () => (await settle(), count(store.dir('objects')) + count(store.dir('trees'))),
  };
}

/** Builds trees from a nested description: string = file bytes, {x} = executable, {link} = symlink, object = dir. */
type Desc = { [name: string]: string | { x: string } | { link: string } | Desc };
async function tree(m: Backend, d: Desc): Promise<Digest> {
  const entries: ViewEntry[] = [];
  for (const [name, v] of Object.entries(d)) {
    if (typeof v === 'string')
      entries.push({ name, kind: 'file', digest: m.putBlob(v), size: v.length, executable: false });
    else if ('x' in v && typeof v.x === 'string')
      entries.push({ name, kind: 'file', digest: m.putBlob(v.x), size: v.x.length, executable: true });
    else if ('link' in v && typeof v.link === 'string')
      entries.push({ name, kind: 'symlink', target: v.link });
    else {
      const digest = await tree(m, v as Desc);
      entries.push({ name, kind: 'directory', digest, size: subtreeEntries(await m.getTree(digest)) });
    }
  }
  return m.putTree({ entries });
}

function comp(entries: Record<string, [string, EntryNode]>, precedence: string[] = []) {
  return makeComposition({
    version: 1,
    entries: Object.fromEntries(
      Object.entries(entries).map(([n, [at, node]]) => [
        n,
        { at, node, constraint: { kind: 'exact', digest: nodeDigest(node) } },
      ]),
    ),
    precedence,
  });
}

async function flat(m: Backend, d: Digest): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [p, e] of await listView(m, d))
    out[p] =
      e.kind === 'directory'
        ? 'dir'
        : e.kind === 'symlink'
          ? `-> ${e.target}`
          : `${new TextDecoder().decode(m.blobs.get(e.digest))}${e.executable ? ' (x)' : ''}`;
  return out;
}

async function conflict(p: Promise<unknown>): Promise<CompositionError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CompositionError);
    return e as CompositionError;
  }
  throw new Error('expected a CompositionError');
}

const backends: [string, () => Backend][] = [
  ['memory', memoryBackend],
  ['filesystem store', storeBackend],
];

describe.each(backends)('merge rules (specs/composition.md §6), %s backend', (_name, mk) => {
  it('§6.2 directories merge, §6.1 entries at deeper prefixes create implicit directories', async () => {
    const m = mk();
    const libc = await tree(m, { usr: { lib: { 'libc.so.6': 'LIBC' } }, etc: { 'ld.so.conf': 'conf' } });
    const dash = await tree(m, { usr: { bin: { dash: { x: 'DASH' } }, lib: { 'libdash.so': 'LD' } } });
    const c = comp({
      libc: ['/', { kind: 'tree', digest: libc }],
      dash: ['/', { kind: 'tree', digest: dash }],
      ls: ['/usr/local/bin/ls', { kind: 'file', digest: m.putBlob('LS'), executable: true }],
      sh: ['/usr/bin/sh', { kind: 'symlink', target: 'dash' }],
      share: ['/usr/share/doc', { kind: 'tree', digest: await tree(m, { README: 'r' }) }],
    });
    const v = await mergeComposition(c, m);
    expect(v.shadowed).toEqual([]);
    expect(await flat(m, v.tree)).toEqual({
      '/etc': 'dir',
      '/etc/ld.so.conf': 'conf',
      '/usr': 'dir',
      '/usr/bin': 'dir',
      '/usr/bin/dash': 'DASH (x)',
      '/usr/bin/sh': '-> dash',
      '/usr/lib': 'dir',
      '/usr/lib/libc.so.6': 'LIBC',
      '/usr/lib/libdash.so': 'LD',
      '/usr/local': 'dir',
      '/usr/local/bin': 'dir',
      '/usr/local/bin/ls': 'LS (x)',
      '/usr/share': 'dir',
      '/usr/share/doc': 'dir',
      '/usr/share/doc/README': 'r',
    });
  });

  it('no bytes copied: the view names the same blobs; a lone subtree is reused by digest', async () => {
    const m = mk();
    const lib = await tree(m, { 'a.so': 'A', 'b.so': 'B' });
    const t = await tree(m, { lib: { x: { 'a.so': 'A', 'b.so': 'B' } } });
    const c = comp({
      t: ['/', { kind: 'tree', digest: t }],
      o: ['/opt/o', { kind: 'file', digest: m.putBlob('O'), executable: false }],
    });
    const blobsBefore = m.blobs.size;
    const objectsBefore = await m.objectCount();
    const v = await mergeComposition(c, m);
    expect(m.blobs.size).toBe(blobsBefore);
    // Only new trees were written: the root and /opt (/opt/o is a file of an existing blob).
    expect(await m.objectCount()).toBe(objectsBefore + 2);
    const view = await listView(m, v.tree);
    expect((view.get('/lib/x') as { digest: Digest }).digest).toBe(lib);
    expect((view.get('/lib/x/a.so') as { digest: Digest }).digest).toBe(m.putBlob('A'));
  });

  it('§6.3 identical files (same bytes and exec bit) and identical symlinks dedupe', async () => {
    const m = mk();
    const a = await tree(m, { bin: { tool: { x: 'T' }, link: { link: 'tool' } }, README: 'same' });
    const b = await tree(m, { bin: { tool: { x: 'T' }, link: { link: 'tool' } }, README: 'same', only: 'b' });
    const v = await mergeComposition(
      comp({ a: ['/', { kind: 'tree', digest: a }], b: ['/', { kind: 'tree', digest: b }] }),
      m,
    );
    expect(v.shadowed).toEqual([]);
    expect(await flat(m, v.tree)).toEqual({
      '/README': 'same',
      '/bin': 'dir',
      '/bin/link': '-> tool',
      '/bin/tool': 'T (x)',
      '/only': 'b',
    });
  });

  it('§6.4 different files at one path: E18 naming the path and both entries', async () => {
    const m = mk();
    const tc = await tree(m, { lib: { 'libssl.so.3': 'old ssl', 'libc.so': 'c' } });
    const ssl = await tree(m, { lib: { 'libssl.so.3': 'new ssl' } });
    const e = await conflict(
      mergeComposition(
        comp({
          toolchain: ['/usr', { kind: 'tree', digest: tc }],
          openssl: ['/usr', { kind: 'tree', digest: ssl }],
        }),
        m,
      ),
    );
    expect(e.message).toMatch(
      /^\[E18\] \/usr\/lib\/libssl\.so\.3: entries openssl \(file blake3:[0-9a-f]{64}\) and toolchain \(file blake3:[0-9a-f]{64}\) differ/,
    );
    expect(e.data).toEqual({ path: '/usr/lib/libssl.so.3', entries: ['openssl', 'toolchain'] });
  });

  it('§6.4 an executable bit difference or a different symlink target is a conflict too', async () => {
    const m = mk();
    const a = await tree(m, { f: 'same', l: { link: 'x' } });
    const b = await tree(m, { f: { x: 'same' } });
    const c = await tree(m, { l: { link: 'y' } });
    const e1 = await conflict(
      mergeComposition(
        comp({ a: ['/', { kind: 'tree', digest: a }], b: ['/', { kind: 'tree', digest: b }] }),
        m,
      ),
    );
    expect(e1.message).toMatch(/^\[E18\] \/f: entries a .* and b .*\(executable\)\) differ/);
    const e2 = await conflict(
      mergeComposition(
        comp({ a: ['/', { kind: 'tree', digest: a }], c: ['/', { kind: 'tree', digest: c }] }),
        m,
      ),
    );
    expect(e2.message).toMatch(/^\[E18\] \/l: entries a \(symlink -> "x"\) and c \(symlink -> "y"\) differ/);
  });

  it('§6.4 precedence resolves it, and every shadowed path is listed', async () => {
    const m = mk();
    const tc = await tree(m, {
      lib: { 'libssl.so.3': 'old ssl', 'libcrypto.so.3': 'old crypto', 'libc.so': 'c' },
      include: { 'ssl.h': 'old h' },
    });
    const ssl = await tree(m, {
      lib: { 'libssl.so.3': 'new ssl', 'libcrypto.so.3': 'new crypto' },
      include: { 'ssl.h': 'new h' },
    });
    const same = await tree(m, { lib: { 'libssl.so.3': 'new ssl' } });
    const c = comp(
      {
        toolchain: ['/usr', { kind: 'tree', digest: tc }],
        openssl: ['/usr', { kind: 'tree', digest: ssl }],
        copy: ['/usr', { kind: 'tree', digest: same }],
      },
      ['openssl', 'copy', 'toolchain'],
    );
    const v = await mergeComposition(c, m);
    expect(v.shadowed).toEqual([
      { path: '/usr/include/ssl.h', winner: 'openssl', shadowed: ['toolchain'] },
      { path: '/usr/lib/libcrypto.so.3', winner: 'openssl', shadowed: ['toolchain'] },
      { path: '/usr/lib/libssl.so.3', winner: 'openssl', shadowed: ['toolchain'] },
    ]);
    const f = await flat(m, v.tree);
    expect(f['/usr/lib/libssl.so.3']).toBe('new ssl');
    expect(f['/usr/lib/libc.so']).toBe('c');
    // Reversed precedence: the toolchain wins, and the identical copy is shadowed with openssl.
    const r = await mergeComposition(
      comp(
        {
          toolchain: ['/usr', { kind: 'tree', digest: tc }],
          openssl: ['/usr', { kind: 'tree', digest: ssl }],
          copy: ['/usr', { kind: 'tree', digest: same }],
        },
        ['toolchain', 'openssl', 'copy'],
      ),
      m,
    );
    expect(r.shadowed.find((s) => s.path === '/usr/lib/libssl.so.3')).toEqual({
      path: '/usr/lib/libssl.so.3',
      winner: 'toolchain',
      shadowed: ['openssl', 'copy'],
    });
    expect((await flat(m, r.tree))['/usr/lib/libssl.so.3']).toBe('old ssl');
  });

  it('§6.4 precedence listing only one of the two entries still conflicts', async () => {
    const m = mk();
    const a = await tree(m, { f: 'A' });
    const b = await tree(m, { f: 'B' });
    const e = await conflict(
      mergeComposition(
        comp({ a: ['/', { kind: 'tree', digest: a }], b: ['/', { kind: 'tree', digest: b }] }, ['a']),
        m,
      ),
    );
    expect(e.data).toEqual({ path: '/f', entries: ['a', 'b'] });
  });

  it('§6.5 a file where another entry has a directory always conflicts, even with precedence', async () => {
    const m = mk();
    const a = await tree(m, { usr: { lib: 'i am a file' } });
    const b = await tree(m, { usr: { lib: { 'x.so': 'x' } } });
    const e = await conflict(
      mergeComposition(
        comp({ a: ['/', { kind: 'tree', digest: a }], b: ['/', { kind: 'tree', digest: b }] }, ['a', 'b']),
        m,
      ),
    );
    expect(e.message).toMatch(
      /^\[E18\] \/usr\/lib: entry b has a directory and entry a has file blake3:[0-9a-f]+; a directory and a non-directory at one path always conflict/,
    );
    // An implicit directory (from a deeper prefix) against a symlink (merged-/usr style /lib -> usr/lib).
    const root = await tree(m, { lib: { link: 'usr/lib' } });
    const e2 = await conflict(
      mergeComposition(
        comp(
          {
            base: ['/', { kind: 'tree', digest: root }],
            ld: ['/lib/ld.so', { kind: 'file', digest: m.putBlob('LD'), executable: true }],
          },
          ['ld', 'base'],
        ),
        m,
      ),
    );
    expect(e2.data).toEqual({ path: '/lib', entries: ['ld', 'base'] });
  });

  it('is independent of entry order and deterministic', async () => {
    const m = mk();
    const a = await tree(m, { x: { a: '1' } });
    const b = await tree(m, { x: { b: '2' } });
    const v1 = await mergeComposition(
      comp({ a: ['/', { kind: 'tree', digest: a }], b: ['/', { kind: 'tree', digest: b }] }),
      m,
    );
    const v2 = await mergeComposition(
      comp({ b: ['/', { kind: 'tree', digest: b }], a: ['/', { kind: 'tree', digest: a }] }),
      m,
    );
    expect(v1.tree).toBe(v2.tree);
    expect(v1.tree).toBe(await tree(m, { x: { a: '1', b: '2' } }));
  });

  it('an empty composition has the empty tree as its view', async () => {
    const m = mk();
    const v = await mergeComposition(comp({}), m);
    expect(v.tree).toBe(await m.putTree({ entries: [] }));
  });
});

describe.each(backends)('diff (specs/composition.md §8), %s backend', (_name, mk) => {
  it('lists entry changes and the merged paths that change', async () => {
    const m = mk();
    const base = await tree(m, { usr: { bin: { a: 'A' }, lib: { 'l.so': 'L' } } });
    const base2 = await tree(m, { usr: { bin: { a: 'A2' }, lib: { 'l.so': 'L' } } });
    const A = comp({
      base: ['/', { kind: 'tree', digest: base }],
      gone: ['/opt/gone', { kind: 'tree', digest: await tree(m, { g: 'g' }) }],
    });
    const B = comp({
      base: ['/', { kind: 'tree', digest: base2 }],
      sh: ['/usr/bin/sh', { kind: 'symlink', target: 'a' }],
    });
    expect(diffEntries(A, B).map((c) => `${c.change} ${c.name}`)).toEqual([
      'changed base',
      'removed gone',
      'added sh',
    ]);
    const va = await mergeComposition(A, m);
    const vb = await mergeComposition(B, m);
    expect((await diffViews(m, va.tree, vb.tree)).map((p) => `${p.change} ${p.path}`)).toEqual([
      'removed /opt',
      'removed /opt/gone',
      'removed /opt/gone/g',
      'changed /usr/bin/a',
      'added /usr/bin/sh',
    ]);
    expect(await diffViews(m, va.tree, va.tree)).toEqual([]);
  });
});

describe('mergeOnto: a view built around one entry from the rest view (specs/composition.md §10)', () => {
  /** A small deterministic generator (mulberry32), so a failure names its seed. */
  const rng = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  it('equals merging the whole composition, or declines (never a different view)', async () => {
    const m = memoryBackend();
    let agreed = 0;
    let declined = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const r = rng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
      // Few names, so directories meet, files dedupe, differ (precedence) or conflict.
      const desc = (depth: number): Desc => {
        const d: Desc = {};
        const n = 1 + Math.floor(r() * 3);
        for (let i = 0; i < n; i++) {
          const name = pick(['a', 'b', 'c', 'lib', 'bin']);
          const roll = r();
          d[name] =
            depth < 2 && roll < 0.45
              ? desc(depth + 1)
              : roll < 0.8
                ? pick(['X', 'Y'])
                : roll < 0.9
                  ? { x: pick(['X', 'Z']) }
                  : { link: pick(['a', '../b']) };
        }
        return d;
      };
      const names = ['e0', 'e1', 'e2', 'e3', 'e4'].slice(0, 2 + Math.floor(r() * 4));
      const entries: Record<string, [string, EntryNode]> = {};
      for (const n of names) {
        const at = pick(['/', '/', '/', '/usr', '/opt/p', '/usr/lib']);
        const node: EntryNode =
          at !== '/' && r() < 0.2
            ? { kind: 'file', digest: m.putBlob(pick(['X', 'Y'])), executable: false }
            : { kind: 'tree', digest: await tree(m, desc(0)) };
        entries[n] = [at, node];
      }
      const ranked = names.filter(() => r() < 0.7);
      const c = comp(entries, r() < 0.6 ? ranked : []);
      const whole = await mergeComposition(c, m).catch((e: unknown) => e);
      for (const name of names) {
        const others = Object.fromEntries(Object.entries(c.entries).filter(([n]) => n !== name));
        const rest = await mergeComposition({ entries: others, precedence: c.precedence }, m).catch(
          (e: unknown) => e,
        );
        if (rest instanceof Error) {
          // The others conflict: so does the whole.
          expect(whole, `seed ${seed} entry ${name}`).toBeInstanceOf(CompositionError);
          continue;
        }
        const got = await mergeOnto(rest as MergedView, name, c.entries[name]!, m);
        if (got === undefined) {
          declined++;
          continue;
        }
        expect(whole, `seed ${seed} entry ${name}`).not.toBeInstanceOf(Error);
        expect(got, `seed ${seed} entry ${name}`).toEqual(whole);
        agreed++;
      }
    }
    // Both paths are exercised: most merges are decided two-way, some fall back.
    expect(agreed).toBeGreaterThan(200);
    expect(declined).toBeGreaterThan(20);
  });
});
