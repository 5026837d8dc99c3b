// The filesystem store: ingest, materialize, hostile trees, gc, verify, stats (specs/store.md §4–§10).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  digestBytes,
  encodeCanonical,
  EosError,
  makeTree,
  Store,
  treeDigest,
  type Digest,
} from '../../src/kernel/index.ts';
import { buildGolden, GOLDEN_DIGEST, snapshot, tempDir } from '../helpers/fs.ts';
import { codeOf } from '../helpers/error-code.ts';

/** Writes raw (possibly hostile) tree bytes into the store under their digest. */
function plantTree(store: Store, value: unknown): Digest {
  store.ensureLayout();
  const bytes = encodeCanonical(value);
  const d = digestBytes(bytes);
  mkdirSync(dirname(store.treePath(d)), { recursive: true });
  writeFileSync(store.treePath(d), bytes);
  return d;
}

describe('ingest and materialize', () => {
  it('ingests the golden tree to the spec digest, whatever the creation order', async () => {
    const a = tempDir();
    const b = tempDir();
    buildGolden(a);
    buildGolden(b, true);
    const s1 = new Store(join(tempDir(), 's'));
    const s2 = new Store(join(tempDir(), 's'));
    const r1 = await s1.ingest(a);
    const r2 = await s2.ingest(b);
    expect(r1).toMatchObject({ digest: GOLDEN_DIGEST, kind: 'directory' });
    expect(r2.digest).toBe(GOLDEN_DIGEST);
    expect(r1.files).toBe(5);
    expect(r1.written).toBe(6); // 3 blobs ('', hello, run.sh) and 3 trees
    expect((await s1.ingest(b)).written).toBe(0);
  });

  it('round-trips unicode names, empty dirs, 0-byte files, dangling symlinks, exec bits and a >64 MiB streamed file', async () => {
    const src = tempDir();
    buildGolden(src);
    mkdirSync(join(src, 'deep', 'er', 'est'), { recursive: true });
    mkdirSync(join(src, 'Ünïcødé ☃ 日本語'));
    writeFileSync(join(src, 'Ünïcødé ☃ 日本語', 'façade.txt'), 'ça va\n');
    symlinkSync('../../escape/../x', join(src, 'deep', 'rel-link'));
    writeFileSync(join(src, 'deep', 'tool'), randomBytes(5000), { mode: 0o755 });
    // 96 MiB + 7 bytes of incompressible data, written in pieces
    const bigPath = join(src, 'big.bin');
    const fd = openSync(bigPath, 'w');
    for (let i = 0; i < 96; i++) writeSync(fd, randomBytes(1 << 20));
    writeSync(fd, Buffer.from('tail!!\n'));
    closeSync(fd);
    const bigSize = statSync(bigPath).size;

    const store = new Store(join(tempDir(), 's'));
    // memory bound: sample the process RSS while ingesting (the file is read in 1 MiB chunks by a worker)
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
    const r = await store.ingest(src);
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(peak - before, 'RSS growth while ingesting a 96 MiB file').toBeLessThan(48 * 1024 * 1024);

    const tree = await store.getTree(r.digest);
    const big = tree.entries.find((e) => e.name === 'big.bin');
    expect(big).toMatchObject({ kind: 'file', size: bigSize, executable: false });
    expect(statSync(store.blobPath((big as { digest: Digest }).digest)).size).toBe(bigSize);

    for (const copy of [false, true]) {
      const out = join(tempDir(), 'out');
      const rep = await store.materialize(r.digest, out, { copy });
      expect(snapshot(out)).toEqual(snapshot(src));
      if (copy) expect(rep.linked).toBe(0);
      else expect(rep.copied).toBe(0);
      expect(statSync(join(out, 'run.sh')).mode & 0o777).toBe(copy ? 0o755 : 0o555);
      expect(statSync(join(out, 'hello.txt')).mode & 0o777).toBe(copy ? 0o644 : 0o444);
      if (!copy)
        expect(statSync(join(out, 'hello.txt')).ino).toBe(
          statSync(store.blobPath(digestBytes('hello\n'))).ino,
        );
    }
    // a re-ingest of the materialized copy gives the same digest
    expect((await store.ingest(src)).digest).toBe(r.digest);
  }, 120_000);

  it('stores identical content once, reads hard links once, and keeps them as file entries', async () => {
    const src = tempDir();
    writeFileSync(join(src, 'a'), 'same');
    writeFileSync(join(src, 'b'), 'same');
    writeFileSync(join(src, 'c'), 'other', { mode: 0o700 });
    linkSync(join(src, 'c'), join(src, 'c-link'));
    const store = new Store(join(tempDir(), 's'));
    const r = await store.ingest(src);
    expect(r.files).toBe(4);
    const t = await store.getTree(r.digest);
    expect(t.entries.map((e) => [e.name, e.kind])).toEqual([
      ['a', 'file'],
      ['b', 'file'],
      ['c', 'file'],
      ['c-link', 'file'],
    ]);
    const st = await store.stats();
    expect(st).toMatchObject({
      blobs: 2,
      blobBytes: 9,
      trees: 1,
      logicalBytes: 18,
      referencedBytes: 9,
      savedBytes: 9,
    });
  });

  it('ingests a single file as a blob', async () => {
    const f = join(tempDir(), 'one');
    writeFileSync(f, 'hello\n');
    const store = new Store(join(tempDir(), 's'));
    expect(await store.ingest(f)).toMatchObject({ digest: digestBytes('hello\n'), kind: 'file' });
    expect(Buffer.from(await store.readBlob(digestBytes('hello\n'))).toString()).toBe('hello\n');
  });

  it('refuses FIFOs, sockets and non-UTF-8 names with E6 naming the path', async () => {
    const store = new Store(join(tempDir(), 's'));
    const a = tempDir();
    execFileSync('mkfifo', [join(a, 'pipe')]);
    const e = await store.ingest(a).catch((x) => x);
    expect(e).toBeInstanceOf(EosError);
    expect(e.code).toBe('E6');
    expect(e.message).toContain(join(a, 'pipe'));

    const b = tempDir();
    const sock = join(b, 'sock');
    const server = createServer();
    await new Promise<void>((res) => server.listen(sock, res));
    try {
      const e2 = await store.ingest(b).catch((x) => x);
      expect(e2.code).toBe('E6');
      expect(e2.message).toContain('socket');
    } finally {
      server.close();
    }

    const c = tempDir();
    writeFileSync(Buffer.from(join(c, 'bad-\xff-name'), 'latin1'), 'x');
    const e3 = await store.ingest(c).catch((x) => x);
    expect(e3.code).toBe('E6');
    expect(e3.message).toContain('not valid UTF-8');
    expect(await codeOf(store.ingest(join(c, 'absent')))).toBe('E4');
  });
});

describe('ingest failures and locks', () => {
  it('refuses a tree that contains the store (E6) and leaves no temp files after a failed ingest', async () => {
    const src = tempDir();
    buildGolden(src);
    const inside = new Store(join(src, 'sub', 'store'));
    const e = await inside.ingest(src).catch((x) => x);
    expect(e.code).toBe('E6');
    expect(e.message).toContain('is the store itself');
    const fifoTree = tempDir();
    for (let i = 0; i < 30; i++) writeFileSync(join(fifoTree, `f${i}`), randomBytes(2000 + i));
    execFileSync('mkfifo', [join(fifoTree, 'zz-pipe')]);
    const store = new Store(join(tempDir(), 's'));
    expect(await codeOf(store.ingest(fifoTree))).toBe('E6');
    await new Promise((r) => setTimeout(r, 200));
    expect(readdirSync(store.dir('tmp'))).toEqual([]);
    expect(readdirSync(store.dir('locks'))).toEqual([]);
  });

  it('gc refuses (E12) while an ingest holds the store; an ingest waits for a live gc', async () => {
    const store = new Store(join(tempDir(), 's'));
    const src = tempDir();
    buildGolden(src);
    // an ingest in flight: gc must not run
    let release!: () => void;
    const held = store.withWriteLock(() => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 50));
    const other = new Store(store.root);
    // same pid counts as the holder only for itself: simulate another process's lock file
    const fake = spawn('sleep', ['30']);
    writeFileSync(join(store.dir('locks'), `shared-${fake.pid}-test`), `${fake.pid}\n`);
    const e = await other.gc().catch((x) => x);
    expect(e.code).toBe('E12');
    expect(e.message).toContain(`pid ${fake.pid}`);
    fake.kill('SIGKILL');
    await new Promise((r) => fake.on('close', r));
    release();
    await held;
    // a live exclusive holder (another pid) makes an ingest wait until it is gone
    const gcProc = spawn('sleep', ['30']);
    writeFileSync(join(store.dir('locks'), 'exclusive'), `${gcProc.pid}\n`);
    let done = false;
    const ing = store.ingest(src).then((r) => ((done = true), r));
    await new Promise((r) => setTimeout(r, 600));
    expect(done).toBe(false);
    gcProc.kill('SIGKILL');
    expect((await ing).digest).toBe(GOLDEN_DIGEST);
    // the stale shared lock of the dead pid is cleared by the next gc
    expect((await store.gc({ graceSeconds: 0 })).treesRemoved).toBe(3);
    expect(readdirSync(store.dir('locks'))).toEqual([]);
  });
});

describe('hostile trees and exports (E8), nothing written outside the target', () => {
  it('refuses crafted trees with "..", "/" or duplicate names before writing anything', async () => {
    const store = new Store(join(tempDir(), 's'));
    const file = await store.putBlob(new TextEncoder().encode('evil'));
    const base = tempDir();
    for (const name of ['..', 'a/../../x', '.']) {
      const d = plantTree(store, {
        entries: [{ digest: file, executable: false, kind: 'file', name, size: 4 }],
        version: 1,
      });
      const target = join(base, `t${name.length}`);
      expect(await codeOf(store.materialize(d, target))).toBe('E8');
      expect(existsSync(target)).toBe(false);
    }
    // a symlink and a directory of the same name: not a valid tree at all
    const dup = plantTree(store, {
      entries: [
        { kind: 'symlink', name: 'a', target: base },
        { digest: treeDigest(makeTree([])), kind: 'directory', name: 'a', size: 0 },
      ],
      version: 1,
    });
    expect(await codeOf(store.materialize(dup, join(base, 'dup')))).toBe('E3');
    // a nested hostile tree: refused when reached, and nothing escapes
    const bad = plantTree(store, { entries: [{ kind: 'symlink', name: '..', target: '/' }], version: 1 });
    const outer = plantTree(store, {
      entries: [{ digest: bad, kind: 'directory', name: 'inner', size: 1 }],
      version: 1,
    });
    expect(await codeOf(store.materialize(outer, join(base, 'nested')))).toBe('E8');
    expect(readdirSync(base).sort()).toEqual(['nested']);
    expect(readdirSync(join(base, 'nested'))).toEqual(['inner']);
    expect(readdirSync(join(base, 'nested', 'inner'))).toEqual([]);
  });

  // A small tree is written with synchronous calls, a large one through the thread pool
  // (specs/store.md §7.2.1): the same refusals either way.
  it.each([
    ['a small tree (calls on this thread)', 0],
    ['a large tree (calls on the thread pool)', 80],
  ])(
    'writes absolute and escaping symlinks verbatim but never writes through a symlink: %s',
    async (_, pad) => {
      const store = new Store(join(tempDir(), 's'));
      const outside = tempDir('eos-outside-');
      const src = tempDir();
      symlinkSync(outside, join(src, 'abs'));
      symlinkSync('../../../../etc', join(src, 'up'));
      mkdirSync(join(src, 'a'));
      writeFileSync(join(src, 'a', 'b'), 'payload');
      writeFileSync(join(src, 'f'), 'payload');
      if (pad) mkdirSync(join(src, 'pad'));
      for (let i = 0; i < pad; i++) writeFileSync(join(src, 'pad', `p${i}`), `pad ${i}`);
      const r = await store.ingest(src);

      const out1 = join(tempDir(), 'out');
      await store.materialize(r.digest, out1);
      expect(snapshot(out1)).toEqual(snapshot(src));

      // the target already holds `a -> outside` and `f -> outside/f`: the tree's a/b and f must not go through them
      const out2 = tempDir();
      symlinkSync(outside, join(out2, 'a'));
      const e = await store.materialize(r.digest, out2).catch((x) => x);
      expect(e.code).toBe('E8');
      expect(e.message).toContain('refusing to write through');
      const out3 = tempDir();
      symlinkSync(join(outside, 'f'), join(out3, 'f'));
      expect(await codeOf(store.materialize(r.digest, out3))).toBe('E8');
      // a target that is itself a symlink
      const out4 = join(tempDir(), 'link');
      symlinkSync(outside, out4);
      expect(await codeOf(store.materialize(r.digest, out4))).toBe('E8');
      expect(readdirSync(outside)).toEqual([]);
    },
  );

  it('reports a missing object as E4', async () => {
    const store = new Store(join(tempDir(), 's'));
    const d = plantTree(store, {
      entries: [
        { digest: digestBytes('never stored'), executable: false, kind: 'file', name: 'x', size: 12 },
      ],
      version: 1,
    });
    expect(await codeOf(store.materialize(d, join(tempDir(), 'o')))).toBe('E4');
    expect(await codeOf(store.materialize(digestBytes('nothing'), join(tempDir(), 'o')))).toBe('E4');
  });
});

describe('gc, roots, verify, stats', () => {
  it('never removes anything reachable from a root; removes the rest', async () => {
    const store = new Store(join(tempDir(), 's'));
    const keep = tempDir();
    buildGolden(keep);
    writeFileSync(join(keep, 'exe'), 'run me', { mode: 0o755 });
    const drop = tempDir();
    writeFileSync(join(drop, 'hello.txt'), 'hello\n'); // shared with the kept tree
    writeFileSync(join(drop, 'only-here'), 'garbage');
    mkdirSync(join(drop, 'd'));
    writeFileSync(join(drop, 'd', 'x'), 'more garbage');
    const k = await store.ingest(keep);
    const d = await store.ingest(drop);
    const loose = await store.putBlob(new TextEncoder().encode('loose blob'));
    const pinnedBlob = await store.putBlob(new TextEncoder().encode('pinned blob'));
    await store.addRoot('keep', k.digest);
    await store.addRoot('blob', pinnedBlob);
    await store.materialize(k.digest, join(tempDir(), 'o')); // makes an exec twin

    // young objects survive the default grace period
    expect((await store.gc()).blobsRemoved).toBe(0);
    const rep = await store.gc({ graceSeconds: 0 });
    expect(rep.blobsRemoved).toBe(3); // only-here, d/x, loose
    expect(rep.treesRemoved).toBe(2); // drop, drop/d
    expect(rep.bytesFreed).toBeGreaterThan(0);
    expect(await store.hasBlob(loose)).toBe(false);
    expect(await store.hasTree(d.digest)).toBe(false);
    expect(await store.hasBlob(pinnedBlob)).toBe(true);
    expect(await store.hasBlob(digestBytes('hello\n'))).toBe(true);
    const out = join(tempDir(), 'o2');
    await store.materialize(k.digest, out);
    expect(snapshot(out)).toEqual(snapshot(keep));
    expect((await store.verify()).problems).toEqual([]);
    // extra roots passed in are honoured; removing the root frees everything
    await store.removeRoot('keep');
    expect((await store.listRoots()).map((r) => r.name)).toEqual(['blob']);
    const rep2 = await store.gc({ graceSeconds: 0, roots: [k.digest] });
    expect(rep2.blobsRemoved + rep2.treesRemoved).toBe(0);
    const rep3 = await store.gc({ graceSeconds: 0 });
    expect(rep3.treesRemoved).toBe(3);
    expect(rep3.twinsRemoved).toBe(2);
    expect(await store.hasBlob(pinnedBlob)).toBe(true);
    expect(await codeOf(store.addRoot('../evil', pinnedBlob))).toBe('E8');
    expect(await codeOf(store.addRoot('x', digestBytes('absent')))).toBe('E4');
    expect(await codeOf(store.removeRoot('nope'))).toBe('E4');
  });

  it('refuses to sweep when a reachable tree is corrupt', async () => {
    const store = new Store(join(tempDir(), 's'));
    const src = tempDir();
    buildGolden(src);
    const r = await store.ingest(src);
    await store.addRoot('r', r.digest);
    const p = store.treePath(r.digest);
    chmodSync(p, 0o644);
    writeFileSync(p, readFileSync(p, 'utf8').replace('hello.txt', 'hellO.txt'));
    const loose = await store.putBlob(new TextEncoder().encode('loose'));
    expect(await codeOf(store.gc({ graceSeconds: 0 }))).toBe('E5');
    expect(await store.hasBlob(loose)).toBe(true);
  });

  it('verify finds a flipped byte in a blob and a tree; repair deletes them; ingest restores', async () => {
    const store = new Store(join(tempDir(), 's'));
    const src = tempDir();
    buildGolden(src);
    const r = await store.ingest(src);
    const blob = digestBytes('#!/bin/sh\necho hi\n');
    const bp = store.blobPath(blob);
    chmodSync(bp, 0o644);
    const bytes = readFileSync(bp);
    bytes[3] = bytes[3]! ^ 0x01;
    writeFileSync(bp, bytes);
    const sub = (await store.getTree(r.digest)).entries.find((e) => e.name === 'sub') as { digest: Digest };
    const tp = store.treePath(sub.digest);
    chmodSync(tp, 0o644);
    writeFileSync(tp, readFileSync(tp, 'utf8').replace('"up"', '"UP"'));
    mkdirSync(join(store.dir('objects'), 'ab'), { recursive: true });
    writeFileSync(join(store.dir('objects'), 'ab', 'not-an-object'), 'x');

    const v = await store.verify();
    const kinds = v.problems.map((p) => `${p.kind} ${p.digest}`).sort();
    expect(kinds).toEqual(
      [`blob ${blob}`, `tree ${sub.digest}`, `incomplete ${r.digest}`, 'stray null'].sort(),
    );
    expect(await codeOf(store.readBlob(blob))).toBe('E5');
    const rep = await store.verify({ repair: true });
    expect(rep.problems.filter((p) => p.removed).length).toBe(3);
    expect(await store.hasBlob(blob)).toBe(false);
    await store.ingest(src);
    expect((await store.verify()).problems).toEqual([]);
    expect(Buffer.from(await store.readBlob(blob)).toString()).toBe('#!/bin/sh\necho hi\n');
  });

  it('refuses a store of another format version (E3)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'eos-store.json'), '{"format":"eos-store","version":99}\n');
    expect(() => new Store(dir)).toThrow(/\[E3\]/);
  });
});
