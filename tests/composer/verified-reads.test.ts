/**
 * Verified reads without fs-verity and checked caches (issue 15 items 3, 4, 9; specs/store.md
 * §12, specs/composition.md §10–§13): a flipped byte in an object is refused by `eos run` (both
 * modes), `eos mount`, `eos image`, `eos store export`; the record of what was checked cannot be
 * forged; edited image/view/world caches are not used and `store verify` reports them; a
 * composition without its pin is not visible.
 */
import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Store,
  checkObjects,
  digestBytes,
  digestHex,
  objectsOfTree,
  type Digest,
} from '../../src/kernel/index.ts';
import { CompositionStore, encodeComposition, makeComposition } from '../../composer/index.ts';
import { eos, tempDir } from './helpers.ts';

let base = '';
let ws: { store: string; config: string; cwd: string };
let root = '';
let other = '';
const MSG = 'hello from the composition\n';

/** dash, cat and their libraries at FHS paths, plus /etc/msg. */
function writeWorld(dir: string, name: string, msg: string): void {
  const files = new Map<string, string>();
  for (const p of ['/usr/bin/dash', '/usr/bin/cat']) {
    files.set(p, realpathSync(p));
    for (const line of execFileSync('ldd', [p], { encoding: 'utf8' }).split('\n')) {
      const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
      if (m) files.set(m[1]!, realpathSync(m[1]!));
    }
  }
  writeFileSync(join(dir, `${name}.msg`), msg);
  const lines: string[] = [];
  let i = 0;
  for (const [at, real] of [...files].sort())
    lines.push(`[entries.f${i++}]`, `at = "${at}"`, `path = "${real}"`, '');
  lines.push('[entries.sh]', 'at = "/usr/bin/sh"', 'symlink = "dash"', '');
  lines.push('[entries.msg]', 'at = "/etc/msg"', `path = "${name}.msg"`, '');
  writeFileSync(join(dir, `${name}.toml`), lines.join('\n'));
}

function objectOf(text: string): string {
  return new Store(ws.store).blobPath(digestBytes(text));
}

/** Flips the first byte of an object file (root ignores its 0444 mode). */
function flip(path: string): Buffer {
  const good = readFileSync(path);
  const bad = Buffer.from(good);
  bad[0] = bad[0]! ^ 1;
  writeFileSync(path, bad);
  return good;
}

beforeAll(() => {
  base = tempDir('eos-verified-');
  ws = { store: join(base, 'store'), config: join(base, 'config'), cwd: base };
  writeWorld(base, 'a', MSG);
  writeWorld(base, 'b', 'another message\n');
  const a = eos(ws, ['compose', 'a.toml']);
  if (a.code !== 0) throw new Error(a.stderr);
  root = a.stdout.trim();
  const b = eos(ws, ['compose', 'b.toml']);
  if (b.code !== 0) throw new Error(b.stderr);
  other = b.stdout.trim();
});

describe('verified reads (issue 15 item 3)', () => {
  it('a flipped byte in an object is refused by run (mount and hard-link), mount, image and export', () => {
    expect(eos(ws, ['run', root, '--', 'cat', '/etc/msg']).stdout).toBe(MSG);
    expect(eos(ws, ['run', root, '--', 'cat', '/etc/msg'], { EOS_NO_MOUNT: '1' }).stdout).toBe(MSG);
    const obj = objectOf(MSG);
    const good = flip(obj);
    try {
      for (const env of [{}, { EOS_NO_MOUNT: '1' }]) {
        const r = eos(ws, ['run', root, '--', 'cat', '/etc/msg'], env);
        expect(r.stdout).toBe('');
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/\[E5\] 1 object file\(s\) do not match their digest/);
        expect(r.stderr).toContain(obj);
      }
      const mnt = join(base, 'mnt');
      execFileSync('mkdir', ['-p', mnt]);
      const m = eos(ws, ['mount', root, mnt]);
      expect(m.code).toBe(1);
      expect(m.stderr).toMatch(/\[E5\]/);
      const view = JSON.parse(
        readFileSync(join(ws.store, 'compositions', `${root.slice(7)}.view.json`), 'utf8'),
      ) as { tree: string };
      const e = eos(ws, ['store', 'export', view.tree, join(base, 'exported')]);
      expect(e.code).toBe(1);
      expect(e.stderr).toMatch(/\[E5\]/);
      expect(existsSync(join(base, 'exported', 'etc', 'msg'))).toBe(false);
    } finally {
      writeFileSync(obj, good);
    }
    expect(eos(ws, ['run', root, '--', 'cat', '/etc/msg']).stdout).toBe(MSG);
  });

  it('eos image never computes a verity digest from a corrupt blob; verify --repair really repairs', () => {
    rmSync(join(ws.store, 'images'), { recursive: true, force: true });
    rmSync(join(ws.store, 'private'), { recursive: true, force: true });
    const obj = objectOf(MSG);
    const good = flip(obj);
    const r = eos(ws, ['image', root, '-o', join(base, 'a.cfs')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[E5\]/);
    expect(existsSync(join(ws.store, 'images', `${root.slice(7)}.cfs`))).toBe(false);
    const log = join(ws.store, 'private', 'verified.log');
    const hex = digestHex(digestBytes(MSG));
    expect(existsSync(log) ? readFileSync(log, 'utf8') : '').not.toMatch(new RegExp(`^[ov] ${hex} `, 'm'));
    // repair removes the blob; storing the source again restores it, and the image is right.
    const v = eos(ws, ['store', 'verify', '--repair']);
    expect(v.stdout).toMatch(new RegExp(`^REMOVED\\tblob\\tblake3:${hex}`, 'm'));
    expect(eos(ws, ['store', 'add', join(base, 'a.msg')]).code).toBe(0);
    expect(readFileSync(obj)).toEqual(good);
    expect(eos(ws, ['image', root, '-o', join(base, 'a.cfs')]).code).toBe(0);
    expect(eos(ws, ['run', root, '--', 'cat', '/etc/msg']).stdout).toBe(MSG);
    expect(eos(ws, ['store', 'verify']).code).toBe(0);
  });

  it('the record re-hashes only files whose stat changed, and a forged line is not believed', async () => {
    const store = new Store(ws.store);
    const cs = new CompositionStore(store);
    const uses = await objectsOfTree(store, (await cs.view(root as Digest)).tree);
    await checkObjects(store, uses);
    expect((await checkObjects(store, uses)).hashed).toBe(0);
    const obj = objectOf(MSG);
    utimesSync(obj, new Date(), new Date());
    expect((await checkObjects(store, uses)).hashed).toBe(1);
    // An attacker who can write store files but not read our key: flip a byte, then append a
    // line claiming the new stat was checked (any MAC they can make is wrong).
    const good = flip(obj);
    try {
      const st = execFileSync('stat', ['-c', '%d %i %s', obj], { encoding: 'utf8' }).trim();
      const hex = digestHex(digestBytes(MSG));
      appendFileSync(join(ws.store, 'private', 'verified.log'), `o ${hex} ${st} 0 0 ${'0'.repeat(32)}\n`);
      const r = eos(ws, ['run', root, '--', 'cat', '/etc/msg']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/\[E5\]/);
    } finally {
      writeFileSync(obj, good);
    }
  });
});

describe('checked caches (issue 15 item 4)', () => {
  it('an image cache edited to another root is not run, verify reports it, --repair drops it', () => {
    expect(eos(ws, ['image', other, '-o', join(base, 'b.cfs')]).code).toBe(0);
    expect(eos(ws, ['image', root, '-o', join(base, 'a.cfs')]).code).toBe(0);
    const mine = join(ws.store, 'images', `${root.slice(7)}.cfs`);
    cpSync(join(ws.store, 'images', `${other.slice(7)}.cfs`), mine);
    const v = eos(ws, ['store', 'verify']);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain(`FAIL\timage\t${root}\t${mine}\t`);
    expect(eos(ws, ['run', root, '--', 'cat', '/etc/msg']).stdout).toBe(MSG);
    cpSync(join(ws.store, 'images', `${other.slice(7)}.cfs`), mine);
    const rep = eos(ws, ['store', 'verify', '--repair']);
    expect(rep.stdout).toContain(`REMOVED\timage\t${root}\t${mine}\t`);
    expect(existsSync(mine)).toBe(false);
    expect(eos(ws, ['store', 'verify']).code).toBe(0);
  });

  it('a view cache pointing at another tree is not used', () => {
    const hexA = root.slice(7);
    const viewA = join(ws.store, 'compositions', `${hexA}.view.json`);
    const viewB = join(ws.store, 'compositions', `${other.slice(7)}.view.json`);
    writeFileSync(viewA, readFileSync(viewB));
    expect(eos(ws, ['store', 'verify']).stdout).toContain(`FAIL\tview\t${root}\t${viewA}\t`);
    expect(eos(ws, ['run', root, '--', 'cat', '/etc/msg']).stdout).toBe(MSG);
    expect(eos(ws, ['store', 'verify']).code).toBe(0);
  });

  it('a hard-link world with an edited file is rebuilt before it runs; verify reports it', () => {
    const env = { EOS_NO_MOUNT: '1' };
    expect(eos(ws, ['run', root, '--', 'cat', '/etc/msg'], env).stdout).toBe(MSG);
    const world = join(ws.store, 'worlds', root.slice(7));
    const msg = join(world, 'etc', 'msg');
    rmSync(msg);
    writeFileSync(msg, 'hello from the attacker\n'.slice(0, MSG.length));
    const v = eos(ws, ['store', 'verify']);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(new RegExp(`^FAIL\\tworld\\t${root}\\t${world}\\t.*etc/msg`, 'm'));
    expect(eos(ws, ['run', root, '--', 'cat', '/etc/msg'], env).stdout).toBe(MSG);
    expect(eos(ws, ['store', 'verify']).code).toBe(0);
    // An extra file is not in the view either.
    writeFileSync(join(world, 'etc', 'extra'), 'x');
    expect(eos(ws, ['store', 'verify', '--repair']).stdout).toMatch(/^REMOVED\tworld\t.*etc\/extra/m);
    expect(existsSync(world)).toBe(false);
  });
});

describe('atomic composition pinning (issue 15 item 9)', () => {
  it('a composition whose pin was never written is not shown, run or kept', async () => {
    // What a kill before the one pin leaves: the composition blob, unpinned.
    const store = new Store(ws.store);
    const cs = new CompositionStore(store);
    const c = await cs.load(root as Digest);
    const { sh: _sh, ...entries } = c.entries;
    const c2 = makeComposition({ version: 1, entries, precedence: [] });
    const d = await store.putBlob(encodeComposition(c2));
    expect(d).not.toBe(root);
    const s = eos(ws, ['compose', 'show', d]);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/\[E4\] composition .* is not in the store/);
    expect(eos(ws, ['run', d, '--', 'true']).code).toBe(1);
    expect(readdirSync(join(ws.store, 'roots')).filter((n) => n.includes(digestHex(d)))).toEqual([]);
  });
});
