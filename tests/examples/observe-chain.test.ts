/**
 * `eos build --observe` and `eos why` in the Debian-seeded world (specs/observe.md): the example
 * zlib atom, a small consumer `zuse` that compiles against zlib.h and links -lz, and an atom
 * `idle` that zuse depends on and nothing reads. Built observed from a lock (zlib's cached,
 * unobserved record is rebuilt once, observed, to the same output; zuse and idle are new actions on
 * every run, so they are always built observed), then `eos why` is checked both
 * ways: zuse read /usr/include/zlib.h from dep.zlib, never touched dep.idle; zlib's own build read
 * the compiler from the seed and never touched perl's modules. The seed, the tarball and the action
 * cache are the shared test cache's (as tests/examples/zlib-chain.test.ts). curl observed is in the
 * bench (bench/observe), not here: it needs OpenSSL built. Needs root, bwrap, /dev/fuse, dpkg-deb
 * and an apt source.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  claimLabel,
  lockWorkspace,
  openRepo,
  publishAtom,
  signerFromKey,
  verifierFromConfig,
} from '../../atoms/index.ts';
import { observeAvailable, readHostAptSources } from '../../executor/index.ts';
import { run as build } from '../../src/cli/build.ts';
import { run as why } from '../../src/cli/why.ts';
import { commitAll, makeConfig, makeRepo, repoRoot } from '../atoms/fixture.ts';
import { testStore } from '../executor/helpers.ts';
import { exampleSeed } from './chain-fixture.ts';

const canRun =
  existsSync('/usr/bin/bwrap') &&
  process.getuid?.() === 0 &&
  existsSync('/usr/bin/dpkg-deb') &&
  readHostAptSources().length > 0 &&
  observeAvailable().ok;

const ZUSE = {
  'atom.toml':
    '[atom]\nlabel = "zuse"\nversion = "1.0.0"\n\n[deps]\nzlib = "^1.2"\nidle = "^1.0"\n\n[build]\nrecipe = "std.shell"\n' +
    'script = "mkdir -p $OUTPUT/usr/bin && cc -O2 -o $OUTPUT/usr/bin/zuse zuse.c -lz"\n',
  'zuse.c': '#include <stdio.h>\n#include <zlib.h>\nint main(void) { puts(zlibVersion()); return 0; }\n',
};
const IDLE = {
  'atom.toml':
    '[atom]\nlabel = "idle"\nversion = "1.0.0"\n\n[build]\nrecipe = "std.shell"\n' +
    'script = "mkdir -p $OUTPUT/usr/share/idle && echo nobody reads this > $OUTPUT/usr/share/idle/README"\n',
};

describe.skipIf(!canRun)('eos build --observe and eos why in the Debian-seeded world', () => {
  it('stores read sets; why says what zuse and zlib read and what they never touched', async () => {
    const store = testStore();
    const ws = mkdtempSync(join(tmpdir(), 'eos-observe-chain-'));
    const { seedLock, aptDir } = await exampleSeed(ws, (m) => console.log(`observe chain: ${m}`));
    const { config } = await makeConfig(['demo'], ['demo']);
    const setDir = makeRepo({ 'README.md': 'example atoms\n' });
    cpSync(join(repoRoot, 'examples', 'atoms', 'zlib'), join(setDir, 'zlib'), { recursive: true });
    // zuse and idle carry a per-run nonce file, so their actions are new on every run and are always
    // built observed here, even when the shared test store (a CI machine's is kept between runs)
    // holds observed records from an earlier run; zlib's action is shared with the other tests.
    const nonce = `${process.pid}-${Date.now()}\n`;
    for (const [dir, files] of [
      ['zuse', ZUSE],
      ['idle', IDLE],
    ] as const) {
      mkdirSync(join(setDir, dir));
      for (const [n, t] of Object.entries({ ...files, 'nonce.txt': nonce }))
        writeFileSync(join(setDir, dir, n), t);
    }
    commitAll(setDir, 'atoms');
    const repo = await openRepo(setDir);
    const signer = await signerFromKey(config, 'demo');
    for (const l of ['zlib', 'zuse', 'idle']) {
      await claimLabel(repo, l, signer);
      await publishAtom(repo, join(setDir, l), signer);
    }
    writeFileSync(
      join(ws, 'atom.toml'),
      '[atom]\nlabel = "root"\nversion = "0.1.0"\n\n[deps]\nzuse = "^1.0"\n',
    );
    await lockWorkspace({
      root: ws,
      sets: { examples: `file://${setDir}` },
      verifier: await verifierFromConfig(config),
    });

    const opts = { store: store.root, json: false, lock: join(ws, 'eos.lock'), seedLock, jobs: '2', aptDir };
    const plain = await build(opts);
    expect(plain.exitCode).toBe(0);
    const zlibPlain = plain.lines!.find((l) => /^(ok|cached)\tzlib\t/.test(l))!.split('\t')[2];
    const t0 = Date.now();
    const obs = await build({ ...opts, observe: true });
    console.log(`observe chain: observed build ${Date.now() - t0} ms\n${obs.lines!.join('\n')}`);
    expect(obs.exitCode).toBe(0);
    // Observed: the same outputs; a read set per action; the prune hint for zuse names dep.idle.
    // zlib's unobserved record is rebuilt observed to the same output (`ok`), unless an earlier run
    // on this store already did (`cached`: that observed record's output is then the one compared).
    expect(obs.lines!.filter((l) => /^(ok|cached)\tzlib\t/.test(l))).toEqual([
      expect.stringMatching(new RegExp(`^(ok|cached)\tzlib\t${zlibPlain}$`)),
    ]);
    for (const l of ['zuse', 'idle'])
      expect(obs.lines!.some((x) => x.startsWith(`ok\t${l}\tblake3:`))).toBe(true);
    for (const l of ['zlib', 'zuse', 'idle'])
      expect(obs.lines!.some((x) => x.startsWith(`observed\t${l}\tblake3:`))).toBe(true);
    expect(obs.lines).toContain('prunable\tzuse\tdep.idle');
    expect(obs.lines).not.toContain('prunable\tzuse\tdep.zlib');
    // A second observed build finds every observed record cached.
    const again = await build({ ...opts, observe: true });
    expect(again.lines!.at(-1)).toMatch(/0 ok, 3 cached/);

    const z = await why({ store: store.root, json: true, atom: 'zuse' });
    const doc = z.json as {
      entries: { entry: string; declared: number; touched: number; read: number }[];
      prunable: string[];
      outside: string[];
    };
    expect(doc.entries.find((e) => e.entry === 'dep.zlib')!.read).toBeGreaterThan(0);
    expect(doc.entries.find((e) => e.entry === 'dep.idle')).toMatchObject({ declared: 1, touched: 0 });
    expect(doc.prunable).toContain('dep.idle');
    const hdr = await why({ store: store.root, json: false, atom: 'zuse', path: '/usr/include/zlib.h' });
    expect(hdr.lines![0]).toBe('path\t/usr/include/zlib.h\tdep.zlib\tread');
    const readme = await why({
      store: store.root,
      json: false,
      atom: 'zuse',
      path: '/usr/share/idle/README',
    });
    expect(readme.lines![0]).toBe('path\t/usr/share/idle/README\tdep.idle\tnot touched');

    // zlib's own build: the compiler came from the seed; perl's modules were never touched.
    const zl = (await why({ store: store.root, json: true, atom: 'zlib@1.2.13' })).json as typeof doc;
    const used = zl.entries.filter((e) => e.touched > 0).map((e) => e.entry);
    expect(used).toEqual(expect.arrayContaining(['seed.gcc-12', 'seed.libc6-dev', 'seed.make', 'seed.dash']));
    expect(zl.prunable).toContain('seed.perl-modules-5.36');
    console.log(
      `observe chain: zlib used ${used.length} of ${zl.entries.length} entries; prunable ${zl.prunable.join(' ')}`,
    );
    rmSync(ws, { recursive: true, force: true });
  }, 1_200_000);
});
