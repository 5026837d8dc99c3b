// What a filesystem Store object remembers: parsed trees (specs/store.md §5.3) and, during a run,
// which objects are stored (§5.4). Each case checks the memory is used, and that it is not trusted
// where the spec says it is not (outside a run, after a run, without the shared lock).
import { chmodSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeTree, Store, type Digest, type Tree } from '../../src/kernel/index.ts';
import { tempDir } from '../helpers/fs.ts';
import { codeOf } from '../helpers/error-code.ts';

/** A store holding one blob and a tree naming it. */
async function fixture(): Promise<{ store: Store; tree: Tree }> {
  const store = new Store(tempDir('eos-runmemo-'));
  const blob = await store.putBlob(new TextEncoder().encode('hello\n'));
  const tree = makeTree([{ name: 'a.txt', kind: 'file', digest: blob, size: 6, executable: false }]);
  return { store, tree };
}

/** Replaces a read-only object file's bytes (as a disk error or an edit would). */
function clobber(path: string, bytes: string): void {
  chmodSync(path, 0o644);
  writeFileSync(path, bytes);
  chmodSync(path, 0o444);
}

const OLD = new Date('2001-01-01T00:00:00Z');

describe('parsed trees and presence (specs/store.md §5.3, §5.4)', () => {
  it('outside a run, a kept tree is returned only while its file is the same (E5 once rewritten, E4 once removed)', async () => {
    const { store, tree } = await fixture();
    const d = await store.putTree(tree);
    expect((await store.getTree(d)).entries).toEqual(tree.entries);
    clobber(store.treePath(d), '{"entries":[],"version":1}');
    expect(await codeOf(store.getTree(d))).toBe('E5');
    rmSync(store.treePath(d), { force: true });
    expect(await codeOf(store.getTree(d))).toBe('E4');
  });

  it('in a run holding the lock, a stored tree is not looked at again; after the run it is', async () => {
    const { store, tree } = await fixture();
    const release = store.keepWriteLock();
    const end = store.beginRun();
    const d = await store.putTree(tree);
    const p = store.treePath(d);
    utimesSync(p, OLD, OLD);
    await store.putTree(tree); // remembered: no lookup, no touch
    expect(statSync(p).mtimeMs).toBe(OLD.getTime());
    expect(await store.hasTree(d)).toBe(true);
    // The tree written in the run is kept parsed: a rewrite of its file goes unseen in the run...
    clobber(p, '{"entries":[],"version":1}');
    expect((await store.getTree(d)).entries).toEqual(tree.entries);
    end();
    release();
    // ...and is found after it, as is the need to touch a stored tree again.
    expect(await codeOf(store.getTree(d))).toBe('E5');
    rmSync(p, { force: true });
    expect(await store.hasTree(d)).toBe(false);
    await store.putTree(tree);
    utimesSync(p, OLD, OLD);
    await store.putTree(tree);
    expect(statSync(p).mtimeMs).toBeGreaterThan(OLD.getTime());
  });

  it('in a run holding the lock, trees stored by putObjects are remembered and kept parsed too', async () => {
    const { store, tree } = await fixture();
    const release = store.keepWriteLock();
    const end = store.beginRun();
    const outer = makeTree([{ name: 'sub', kind: 'directory', digest: await store.putTree(tree), size: 1 }]);
    const {
      trees: [d],
    } = await store.putObjects([], [outer]);
    const p = store.treePath(d!);
    utimesSync(p, OLD, OLD);
    await store.putTree(outer);
    await store.putObjects([], [outer]);
    expect(statSync(p).mtimeMs).toBe(OLD.getTime());
    clobber(p, '{"entries":[],"version":1}');
    expect((await store.getTree(d!)).entries).toEqual(outer.entries);
    end();
    release();
    expect(await codeOf(store.getTree(d!))).toBe('E5');
  });

  it('in a run without the kept lock, nothing is remembered once a write releases the lock', async () => {
    const { store, tree } = await fixture();
    const end = store.beginRun();
    const d = await store.putTree(tree); // takes and releases the shared lock
    const p = store.treePath(d);
    utimesSync(p, OLD, OLD);
    await store.putTree(tree);
    expect(statSync(p).mtimeMs).toBeGreaterThan(OLD.getTime());
    rmSync(p, { force: true });
    expect(await store.hasTree(d)).toBe(false);
    end();
  });

  it('a put of a tree whose child is missing is refused in a run too (E4)', async () => {
    const { store, tree } = await fixture();
    const release = store.keepWriteLock();
    const end = store.beginRun();
    const [entry] = tree.entries;
    rmSync(store.blobPath((entry as { digest: Digest }).digest), { force: true });
    expect(await codeOf(store.putTree(tree))).toBe('E4');
    end();
    release();
  });
});
