/**
 * The pure parts of seeding (apt sources, dpkg status and closures, fixups) and the I/O parts
 * that need no network (usrmerge normalization, the fixups tree, world merging with precedence).
 */
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store } from '../../src/kernel/index.ts';
import {
  buildWorld,
  dependencyLayer,
  materializeWorld,
  dependencyClosure,
  encodePrivateSources,
  fixupEntries,
  ingestFixups,
  normalizeUsrmerge,
  parseDeb822Sources,
  parseDpkgStatus,
  parseOneLineSources,
  usrmergePath,
} from '../../executor/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'eos-seed-parts-'));

describe('apt sources', () => {
  const deb822 = [
    '# comment',
    'Types: deb',
    'URIs: http://archive.invalid/debian',
    'Suites: bookworm bookworm-updates',
    'Components: main',
    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
    '',
    'Types: deb-src',
    'URIs: http://src.invalid/debian',
    'Suites: bookworm',
    'Components: main',
    '',
    'Types: deb',
    'Enabled: no',
    'URIs: http://off.invalid/debian',
    'Suites: bookworm',
    'Components: main',
    '',
  ].join('\n');

  it('parses deb822 stanzas (deb only, enabled only) and writes the private deb+deb-src file', () => {
    const s = parseDeb822Sources(deb822);
    expect(s).toEqual([
      {
        uris: ['http://archive.invalid/debian'],
        suites: ['bookworm', 'bookworm-updates'],
        components: ['main'],
        signedBy: '/usr/share/keyrings/debian-archive-keyring.gpg',
      },
    ]);
    expect(encodePrivateSources(s)).toBe(
      'Types: deb deb-src\nURIs: http://archive.invalid/debian\nSuites: bookworm bookworm-updates\n' +
        'Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
    );
  });

  it('parses one-line sources.list', () => {
    expect(
      parseOneLineSources(
        '# x\ndeb [arch=amd64 signed-by=/k.gpg] http://a.invalid/debian bookworm main contrib\ndeb-src http://a.invalid/debian bookworm main\n',
      ),
    ).toEqual([
      {
        uris: ['http://a.invalid/debian'],
        suites: ['bookworm'],
        components: ['main', 'contrib'],
        signedBy: '/k.gpg',
      },
    ]);
  });
});

describe('dpkg status', () => {
  const status = [
    'Package: app\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\nDepends: libfoo (>= 1), awk | mawk\nPre-Depends: libc6',
    'Package: libfoo\nStatus: install ok triggers-pending\nVersion: 2.0\nArchitecture: amd64\nDepends: libc6:any',
    'Package: mawk\nStatus: install ok installed\nVersion: 1.3\nArchitecture: amd64\nProvides: awk\nDepends: libc6',
    'Package: libc6\nStatus: install ok installed\nVersion: 2.36\nArchitecture: amd64\nDescription: x\n more',
    'Package: gone\nStatus: deinstall ok config-files\nVersion: 1\nArchitecture: amd64',
  ].join('\n\n');

  it('parses installed packages and computes the closure through virtual packages', () => {
    const m = parseDpkgStatus(status);
    expect([...m.keys()].sort()).toEqual(['app', 'libc6', 'libfoo', 'mawk']);
    expect(m.get('app')!.depends).toEqual([['libc6'], ['libfoo'], ['awk', 'mawk']]);
    expect(dependencyClosure(m, ['app']).map((p) => `${p.name}=${p.version}`)).toEqual([
      'app=1.0',
      'libc6=2.36',
      'libfoo=2.0',
      'mawk=1.3',
    ]);
  });

  it('names a missing root or dependency (E24)', () => {
    const m = parseDpkgStatus(status);
    expect(() => dependencyClosure(m, ['gone'])).toThrow(/\[E24\] seed package gone is not installed/);
    const broken = parseDpkgStatus(
      'Package: a\nStatus: install ok installed\nVersion: 1\nDepends: nothere | alsonot',
    );
    expect(() => dependencyClosure(broken, ['a'])).toThrow(
      /a: no installed package satisfies nothere \| alsonot/,
    );
  });
});

describe('usrmerge normalization', () => {
  it('moves bin, sbin, lib, lib64 under usr and keeps relative links pointing at the same place', async () => {
    const r = join(tmp, 'pkg');
    mkdirSync(join(r, 'bin'), { recursive: true });
    mkdirSync(join(r, 'lib/x86_64-linux-gnu'), { recursive: true });
    mkdirSync(join(r, 'lib64'), { recursive: true });
    mkdirSync(join(r, 'usr/lib/x86_64-linux-gnu'), { recursive: true });
    writeFileSync(join(r, 'bin/tool'), 'x');
    writeFileSync(join(r, 'lib/x86_64-linux-gnu/libz.so.1.2'), 'z');
    symlinkSync('libz.so.1.2', join(r, 'lib/x86_64-linux-gnu/libz.so.1'));
    symlinkSync('../usr/bin/other', join(r, 'bin/alias'));
    symlinkSync('/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', join(r, 'lib64/ld-linux-x86-64.so.2'));
    symlinkSync('../../../lib/x86_64-linux-gnu/libz.so.1', join(r, 'usr/lib/x86_64-linux-gnu/libz.so'));
    await normalizeUsrmerge(r);
    for (const d of ['bin', 'lib', 'lib64']) expect(existsSync(join(r, d))).toBe(false);
    expect(lstatSync(join(r, 'usr/bin/tool')).isFile()).toBe(true);
    expect(readlinkSync(join(r, 'usr/lib/x86_64-linux-gnu/libz.so.1'))).toBe('libz.so.1.2');
    expect(readlinkSync(join(r, 'usr/bin/alias'))).toBe('other');
    expect(readlinkSync(join(r, 'usr/lib64/ld-linux-x86-64.so.2'))).toBe(
      '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
    );
    expect(readlinkSync(join(r, 'usr/lib/x86_64-linux-gnu/libz.so'))).toBe(
      '../../../lib/x86_64-linux-gnu/libz.so.1',
    );
    expect(usrmergePath('/lib/x')).toBe('/usr/lib/x');
    expect(usrmergePath('/library')).toBe('/library');
  });

  it('refuses a file present both under /bin and /usr/bin (E24)', async () => {
    const r = join(tmp, 'clash');
    mkdirSync(join(r, 'bin'), { recursive: true });
    mkdirSync(join(r, 'usr/bin'), { recursive: true });
    writeFileSync(join(r, 'bin/sh'), 'a');
    writeFileSync(join(r, 'usr/bin/sh'), 'b');
    await expect(normalizeUsrmerge(r)).rejects.toThrow(/\[E24\] usrmerge: .*bin\/sh and .*usr\/bin\/sh/);
  });
});

describe('fixups and worlds', () => {
  it('the fixups tree has the digest of specs/seed.md §5', async () => {
    const store = new Store(join(tmp, 'store-fixups'));
    expect(fixupEntries().map((e) => e.path)).toContain('usr/bin/cc');
    expect(await ingestFixups(store)).toBe(
      'blake3:ba2aeb33dfe462c12bafec9cb93f1e3a710fba40fbde698d87171d59804f6369',
    );
  });

  it('a world is a composition: identical files dedupe, dependencies shadow the seed (listed), file vs directory conflicts', async () => {
    const store = new Store(join(tmp, 'store-world'));
    const mk = async (name: string, files: Record<string, string>) => {
      const d = join(tmp, 'layers', name);
      for (const [p, t] of Object.entries(files)) {
        mkdirSync(join(d, p, '..'), { recursive: true });
        writeFileSync(join(d, p), t);
      }
      return (await store.ingest(d)).digest;
    };
    const libc = await mk('libc', { 'usr/lib/libc.so.6': 'libc', 'usr/share/doc/README': 'same' });
    const ssl = await mk('ssl', { 'usr/lib/libssl.so.3': 'debian ssl', 'usr/share/doc/README': 'same' });
    const built = await mk('built', { 'usr/lib/libssl.so.3': 'our ssl', 'usr/include/ssl.h': 'h' });
    const dirclash = await mk('dirclash', { 'usr/lib/libssl.so.3/x': 'a directory where a file is' });
    const seed = [
      { name: 'seed.libc6', tree: libc, precedence: 0 },
      { name: 'seed.libssl3', tree: ssl, precedence: 0 },
    ];
    const w = await buildWorld(store, [dependencyLayer('openssl', built), ...seed]);
    expect(w.composition.precedence).toEqual(['dep.openssl', 'seed.libc6', 'seed.libssl3']);
    expect(w.shadowed).toEqual([
      { path: '/usr/lib/libssl.so.3', winner: 'dep.openssl', shadowed: ['seed.libssl3'] },
    ]);
    const out = await materializeWorld(store, w.root);
    expect(existsSync(join(out, 'usr/lib/libc.so.6'))).toBe(true);
    expect(existsSync(join(out, 'usr/include/ssl.h'))).toBe(true);
    expect(readFileSync(join(out, 'usr/lib/libssl.so.3'), 'utf8')).toBe('our ssl');
    expect(await materializeWorld(store, w.root)).toBe(out); // made once
    // Equal-precedence layers in another order: another composition root, the same merged view.
    const again = await buildWorld(store, [dependencyLayer('openssl', built), ...[...seed].reverse()]);
    expect(again.root).not.toBe(w.root);
    expect(again.tree).toBe(w.tree);
    await expect(
      buildWorld(store, [dependencyLayer('openssl', built), dependencyLayer('odd', dirclash)]),
    ).rejects.toThrow(
      /\[E18\] \/usr\/lib\/libssl.so.3: entry dep.odd has a directory and entry dep.openssl has/,
    );
  });
});
