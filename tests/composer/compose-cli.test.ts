import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { eosIn, tempDir } from './helpers.ts';

/** sha256 of the image of composition B (fixed fixture bytes): pins the whole pipeline. */
const IMAGE_SHA256 = '11b95f256edcd826da6f01999942f29d0d27acb4e48a82ddb22393101d3c5995';

let ws: { store: string; config: string; cwd: string };

function put(path: string, text: string, mode = 0o644): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
}

function roots(): string[] {
  const d = join(ws.store, 'roots');
  return existsSync(d) ? readdirSync(d).sort() : [];
}

beforeAll(() => {
  const base = tempDir();
  ws = { store: join(base, 'store'), config: join(base, 'config'), cwd: base };
  put(join(base, 'toolchain', 'lib', 'libssl.so.3'), 'old ssl');
  put(join(base, 'toolchain', 'lib', 'libc.so.6'), 'libc');
  put(join(base, 'toolchain', 'bin', 'cc'), '#!/bin/sh\n', 0o755);
  put(join(base, 'openssl', 'lib', 'libssl.so.3'), 'new ssl');
  put(join(base, 'openssl', 'include', 'ssl.h'), 'h');
  put(join(base, 'tool'), 'tool', 0o755);
  symlinkSync('tool', join(base, 'tool-link'));
  writeFileSync(
    join(base, 'a.toml'),
    [
      '[entries.toolchain]',
      'at = "/usr"',
      'path = "toolchain"',
      '',
      '[entries.tool]',
      'at = "/opt/bin/tool"',
      'path = "tool-link"',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(base, 'conflict.toml'),
    [
      '[entries.toolchain]',
      'at = "/usr"',
      'path = "toolchain"',
      '',
      '[entries.openssl]',
      'at = "/usr"',
      'path = "openssl"',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(base, 'b.toml'),
    [
      '[entries.toolchain]',
      'at = "/usr"',
      'path = "toolchain"',
      '',
      '[entries.openssl]',
      'at = "/usr"',
      'path = "openssl"',
      '',
      '[entries.sh]',
      'at = "/usr/bin/sh"',
      'symlink = "dash"',
      '',
      '[precedence]',
      'order = ["openssl", "toolchain"]',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(base, 'dup.toml'),
    '[entries.libc]\nat = "/"\npath = "toolchain"\n\n[entries.libc]\nat = "/x"\npath = "openssl"\n',
  );
});

describe('eos compose (specs/composition.md §9–§11)', async () => {
  let a = '';
  let b = '';

  it('stores a composition from TOML, prints its root, pins it and its entries', async () => {
    const r = await eosIn(ws, ['compose', 'a.toml']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    a = r.stdout.trim();
    expect(a).toMatch(/^blake3:[0-9a-f]{64}$/);
    const hex = a.slice(7);
    // One pin (specs/composition.md §10): a tree naming the composition and its entries' nodes.
    expect(roots()).toEqual([`composition-${hex}`]);
    const pin = readFileSync(join(ws.store, 'roots', `composition-${hex}`), 'utf8').trim();
    const ls = await eosIn(ws, ['store', 'ls', pin]);
    expect(
      ls.stdout
        .split('\n')
        .map((l) => l.split('\t')[3])
        .filter(Boolean),
    ).toEqual(['composition', 'node.tool', 'node.toolchain']);
    // Same file, same root (deterministic), nothing new pinned.
    expect((await eosIn(ws, ['compose', 'a.toml'])).stdout.trim()).toBe(a);
  });

  it('show prints one readable line per entry', async () => {
    const r = await eosIn(ws, ['compose', 'show', a]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^tool\t\/opt\/bin\/tool\tfile blake3:[0-9a-f]{64} \(executable\)\texact blake3:[0-9a-f]{64}$/,
    );
    expect(lines[1]).toMatch(/^toolchain\t\/usr\ttree blake3:[0-9a-f]{64}\texact blake3:[0-9a-f]{64}$/);
  });

  it('a conflict names the path and both entries, exits 1 and pins nothing', async () => {
    const before = roots();
    const r = await eosIn(ws, ['compose', 'conflict.toml']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^eos: \[E18\] \/usr\/lib\/libssl\.so\.3: entries openssl \(file blake3:[0-9a-f]{64}\) and toolchain \(file blake3:[0-9a-f]{64}\) differ; state which wins in the precedence list\nhint: add \[precedence\]/,
    );
    expect(roots()).toEqual(before);
  });

  it('a duplicate entry is a located E18 naming it', async () => {
    const r = await eosIn(ws, ['compose', 'dup.toml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('eos: [E18] dup.toml:5: entry libc is defined twice (first at line 1)\n');
  });

  it('precedence resolves the conflict and the shadowed paths are listed', async () => {
    const r = await eosIn(ws, ['compose', 'b.toml']);
    expect(r.code).toBe(0);
    b = r.stdout.trim();
    expect(r.stderr).toBe('shadowed\t/usr/lib/libssl.so.3\topenssl over toolchain\n');
    const show = (await eosIn(ws, ['compose', 'show', b])).stdout;
    expect(show).toContain('precedence\topenssl > toolchain');
  });

  it('diff lists entry changes, then the merged paths that change', async () => {
    const r = await eosIn(ws, ['compose', 'diff', a, b]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      'added\topenssl',
      'added\tsh',
      'removed\ttool',
      '-\t/opt',
      '-\t/opt/bin',
      '-\t/opt/bin/tool',
      '+\t/usr/bin/sh',
      '+\t/usr/include',
      '+\t/usr/include/ssl.h',
      '~\t/usr/lib/libssl.so.3',
    ]);
  });

  it('bad roots are clear errors', async () => {
    expect((await eosIn(ws, ['compose', 'show', 'blake3:xyz'])).stderr).toMatch(
      /^eos: \[E2\] ROOT: "blake3:xyz" is not a digest/,
    );
    const missing = 'blake3:' + '0'.repeat(64);
    const r = await eosIn(ws, ['compose', 'show', missing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^eos: \[E4\] composition blake3:0{64} is not in the store/);
  });

  it('sign and verify with real keys; an unsigned root, an untrusted key and a bad signature are rejected', async () => {
    const unsigned = await eosIn(ws, ['compose', 'verify', a]);
    expect(unsigned.code).toBe(1);
    expect(unsigned.stderr).toContain(`[E10] composition ${a} has no signature for "compositions"`);
    expect((await eosIn(ws, ['key', 'generate', 'release'])).code).toBe(0);
    const s = await eosIn(ws, ['compose', 'sign', a, '--key', 'release']);
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/^signed\tblake3:[0-9a-f]{64}\tblake3:[0-9a-f]{64}\tcompositions\n$/);
    const untrusted = await eosIn(ws, ['compose', 'verify', a]);
    expect(untrusted.code).toBe(1);
    expect(untrusted.stdout).toMatch(/^FAIL\t.*\tuntrusted: /);
    expect((await eosIn(ws, ['key', 'trust', 'release', '--for', 'compositions'])).code).toBe(0);
    const ok = await eosIn(ws, ['compose', 'verify', a]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^ok\tblake3:[0-9a-f]{64}\trelease\n$/);
    // Flip one hex digit of the Ed25519 signature in the stored file.
    const dir = join(ws.store, 'compositions', `${a.slice(7)}.sigs`);
    const file = join(dir, readdirSync(dir)[0]!);
    const sig = JSON.parse(readFileSync(file, 'utf8')) as { signature: string };
    const flipped = sig.signature.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    writeFileSync(file, readFileSync(file, 'utf8').replace(sig.signature, flipped));
    const bad = await eosIn(ws, ['compose', 'verify', a]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^FAIL\t.*\tbad-signature: /);
    expect(bad.stderr).toContain(`[E10] composition ${a}: 1 signature(s) rejected`);
  });

  it('several signatures are kept beside one root, each verified', async () => {
    expect((await eosIn(ws, ['key', 'generate', 'ops'])).code).toBe(0);
    expect((await eosIn(ws, ['key', 'trust', 'ops', '--for', 'compositions,deploy'])).code).toBe(0);
    expect((await eosIn(ws, ['compose', 'sign', b, '--key', 'release'])).code).toBe(0);
    expect((await eosIn(ws, ['compose', 'sign', b, '--key', 'ops'])).code).toBe(0);
    expect((await eosIn(ws, ['compose', 'sign', b, '--key', 'ops', '--for', 'deploy'])).code).toBe(0);
    expect(readdirSync(join(ws.store, 'compositions', `${b.slice(7)}.sigs`))).toHaveLength(3);
    const r = await eosIn(ws, ['compose', 'verify', b]);
    expect(r.code).toBe(0);
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => l.replace(/\tblake3:[0-9a-f]{64}/, ''))
        .sort(),
    ).toEqual(['ok\tops', 'ok\trelease']);
    const d = await eosIn(ws, ['compose', 'verify', b, '--for', 'deploy']);
    expect(d.stdout.replace(/\tblake3:[0-9a-f]{64}/, '')).toBe('ok\tops\n');
  });

  it('eos image writes the merged view as a composefs image that fsck.erofs accepts, cached by root', async () => {
    const out = join(ws.cwd, 'b.cfs');
    const r = await eosIn(ws, ['image', b, '-o', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^ok\\t${out}\\t\\d+\\t${b}\\n$`));
    expect(existsSync(join(ws.store, 'images', `${b.slice(7)}.cfs`))).toBe(true);
    const fsck = spawnSync('fsck.erofs', [out], { encoding: 'utf8' });
    expect(fsck.stderr + fsck.stdout).not.toMatch(/error/i);
    expect(fsck.status).toBe(0);
    // Deterministic: rebuilt from scratch (no image cache, no fs-verity cache), the same bytes.
    rmSync(join(ws.store, 'images'), { recursive: true });
    rmSync(join(ws.store, 'private'), { recursive: true });
    const again = join(ws.cwd, 'b2.cfs');
    expect((await eosIn(ws, ['image', b, '-o', again])).code).toBe(0);
    expect(readFileSync(again)).toEqual(readFileSync(out));
    expect(createHash('sha256').update(readFileSync(out)).digest('hex')).toBe(IMAGE_SHA256);
    // The dump shows redirects into objects/ by BLAKE3 digest.
    const dump = await eosIn(ws, ['image', '--dump', out]);
    expect(dump.code).toBe(0);
    expect(dump.stdout).toMatch(
      /\/usr\/lib\/libssl\.so\.3 7 100644 1 0 0 0 0\.0 [0-9a-f]{2}\/[0-9a-f]{62} - [0-9a-f]{64}/,
    );
  });
});
