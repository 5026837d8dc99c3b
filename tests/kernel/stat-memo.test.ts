/**
 * The stat memo (specs/scheduler.md §11.6): values remembered under a file's stat signature, the
 * racy rule, the code stamp, damage, saving only on change; and digestPath through it (a file the
 * memo holds is not read again, an edited one is).
 */
import { lstatSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  NO_STAT_MEMO,
  RACY_MS,
  digestBytes,
  digestPath,
  memoDerived,
  openStatMemo,
  statSignature,
} from '../../src/kernel/index.ts';
import { rewriteKeepingMtime, tempDir } from '../helpers/fs.ts';

/** A run that started well after the test's files were written (so the racy rule admits them). */
const LATER = () => Date.now() + RACY_MS + 1000;

/** A temp directory with a file `a` (holding `data`) and the path of a memo beside it. */
function fixture(data = 'x'): { d: string; f: string; memoFile: string } {
  const d = tempDir('eos-stat-memo-');
  const f = join(d, 'a');
  writeFileSync(f, data);
  return { d, f, memoFile: join(d, 'memo') };
}

describe('stat memo', () => {
  it('remembers a value under the signature and forgets it when the file changes', () => {
    const { f, memoFile } = fixture('one');
    const m = openStatMemo(memoFile, 'c1', LATER());
    m.set('k', f, statSync(f), { v: 1 });
    m.save();
    const again = openStatMemo(memoFile, 'c1', LATER());
    expect(again.get('k', f, statSync(f))).toEqual({ v: 1 });
    expect(again.get('other-kind', f, statSync(f))).toBeUndefined();
    // An edit of the same size, its modification time set back: the status-change time moves.
    const before = statSync(f);
    rewriteKeepingMtime(f, 'two');
    expect(statSync(f).mtimeMs).toBe(before.mtimeMs);
    expect(statSignature(statSync(f))).not.toBe(statSignature(before));
    expect(again.get('k', f, statSync(f))).toBeUndefined();
  });

  it('does not remember a file changed within RACY_MS of the run start', () => {
    const { f, memoFile } = fixture();
    const m = openStatMemo(memoFile, 'c1', Date.now());
    m.set('k', f, statSync(f), 1);
    expect(m.get('k', f, statSync(f))).toBeUndefined();
    m.save();
    expect(() => statSync(memoFile)).toThrow(); // nothing changed: nothing written
  });

  it('drops a memo of other code, a damaged one, and remembers nothing without a stamp', () => {
    const { f, memoFile } = fixture();
    const m = openStatMemo(memoFile, 'c1', LATER());
    m.set('k', f, statSync(f), 1);
    m.save();
    expect(openStatMemo(memoFile, 'c1', LATER()).get('k', f, statSync(f))).toBe(1);
    expect(openStatMemo(memoFile, 'c2', LATER()).get('k', f, statSync(f))).toBeUndefined();
    expect(openStatMemo(memoFile, undefined)).toBe(NO_STAT_MEMO);
    writeFileSync(memoFile, '{"format":"eos.stat-memo","version":1,"code":"c1","entries":');
    expect(openStatMemo(memoFile, 'c1', LATER()).get('k', f, statSync(f))).toBeUndefined();
  });

  it('saves only when an entry was added or changed', () => {
    const { f, memoFile } = fixture();
    const m = openStatMemo(memoFile, 'c1', LATER());
    m.set('k', f, statSync(f), 1);
    m.save();
    const ino = statSync(memoFile).ino;
    const r = openStatMemo(memoFile, 'c1', LATER());
    expect(r.get('k', f, statSync(f))).toBe(1);
    r.save();
    expect(statSync(memoFile).ino).toBe(ino); // not rewritten (a rewrite is a rename: a new inode)
    const doc = JSON.parse(readFileSync(memoFile, 'utf8'));
    expect(doc).toMatchObject({ format: 'eos.stat-memo', version: 1, code: 'c1' });
  });

  it('memoDerived derives once, then reuses; a derive that throws remembers nothing', async () => {
    const { d, f, memoFile } = fixture();
    const m = openStatMemo(memoFile, 'c1', LATER());
    let calls = 0;
    const derive = () => ++calls;
    expect(await memoDerived(m, 'n', f, derive)).toBe(1);
    expect(await memoDerived(m, 'n', f, derive)).toBe(1);
    expect(calls).toBe(1);
    await expect(
      memoDerived(m, 'bad', f, () => {
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(m.get('bad', f, statSync(f))).toBeUndefined();
    // A directory is not a file to remember: derived every time.
    expect(await memoDerived(m, 'n', d, derive)).toBe(2);
    expect(await memoDerived(m, 'n', d, derive)).toBe(3);
  });

  it('digestPath reads a file the memo holds no more, and an edited one again', () => {
    const d = tempDir('eos-stat-memo-');
    const src = join(d, 'src');
    const f = join(src, 'f');
    mkdirSync(src);
    writeFileSync(f, 'hello');
    const m = openStatMemo(join(d, 'memo'), 'c1', LATER());
    const real = digestPath(src, undefined, m);
    expect(real).toEqual(digestPath(src));
    // The memo now holds f's digest; a planted one shows that digestPath takes it without reading.
    const planted = digestBytes('planted');
    m.set('blob', f, statSync(f), [planted, 5]);
    const viaMemo = digestPath(src, undefined, m);
    expect(viaMemo.digest).not.toBe(real.digest);
    writeFileSync(f, 'hellO');
    expect(digestPath(src, undefined, m)).toEqual(digestPath(src));
    expect(digestPath(src, undefined, m).digest).not.toBe(real.digest);
  });

  it('digestPath lists a directory again once an entry is added, removed or renamed', () => {
    const d = tempDir('eos-stat-memo-');
    const src = join(d, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'a'), 'a');
    writeFileSync(join(src, 'sub', 'b'), 'b');
    mkdirSync(join(d, 'only-a'));
    writeFileSync(join(d, 'only-a', 'a'), 'a');
    const m = openStatMemo(join(d, 'memo'), 'c1', LATER());
    expect(digestPath(src, undefined, m)).toEqual(digestPath(src));
    // The names are remembered under each directory's signature: a planted list is believed...
    m.set('dir-list', src, lstatSync(src), ['a']);
    expect(digestPath(src, undefined, m)).toEqual(digestPath(join(d, 'only-a')));
    // ...until the directory changes: each change makes it list the directory again.
    writeFileSync(join(src, 'c'), 'c');
    expect(digestPath(src, undefined, m)).toEqual(digestPath(src));
    m.set('dir-list', src, lstatSync(src), ['a']);
    rmSync(join(src, 'c'));
    expect(digestPath(src, undefined, m)).toEqual(digestPath(src));
    m.set('dir-list', join(src, 'sub'), lstatSync(join(src, 'sub')), []);
    renameSync(join(src, 'sub', 'b'), join(src, 'sub', 'B'));
    expect(digestPath(src, undefined, m)).toEqual(digestPath(src));
  });
});
