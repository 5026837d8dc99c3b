import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AtomError,
  ManifestError,
  Store,
  digestBytes,
  encodeCanonical,
  readSecretKey,
  signDigest,
} from '../../src/kernel/index.ts';
import {
  claimLabel,
  openRepo,
  publishAtom,
  readSetState,
  recordDigest,
  signerFromKey,
  uncommittedUnder,
  verifierFromConfig,
  verifyAtom,
  type AtomRepo,
  type AtomVerifier,
  type PublishRecord,
} from '../../atoms/index.ts';
import {
  commitAll,
  gitCli,
  makeConfig,
  makeRepo,
  manifest,
  repoRoot,
  tempDir,
  writeFiles,
} from './fixture.ts';

let config: string;
let verifier: AtomVerifier;

beforeAll(async () => {
  // alice and mallory are trusted for atoms; eve is known but untrusted.
  ({ config } = await makeConfig(['alice', 'mallory', 'eve'], ['alice', 'mallory']));
  verifier = await verifierFromConfig(config);
});

async function atomError(p: Promise<unknown>): Promise<AtomError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AtomError);
    return e as AtomError;
  }
  throw new Error('expected an AtomError');
}

/** A repository with zlib published by alice; returns what the tests need. */
async function published(): Promise<{ dir: string; repo: AtomRepo; source: string; pub: string }> {
  const dir = makeRepo({
    'README.md': 'a monorepo\n',
    'zlib/atom.toml': manifest('zlib', '1.3.1'),
    'zlib/src/zlib.c': 'int main(void) { return 0; }\n',
    'zlib/configure': { exec: '#!/bin/sh\necho configured\n' },
    'zlib/include/zlib.h': '#define ZLIB 1\n',
    'zlib/include/z.h': { link: 'zlib.h' },
    'other/file.txt': 'not part of the atom\n',
  });
  const repo = await openRepo(dir);
  const alice = await signerFromKey(config, 'alice');
  await claimLabel(repo, 'zlib', alice);
  const r = await publishAtom(repo, join(dir, 'zlib'), alice);
  return { dir, repo, source: gitCli(dir, ['rev-parse', 'HEAD']), pub: r.commit };
}

/** Forges a publish commit with git's own tools: the given tree entries and parent. */
function forgePublish(
  dir: string,
  entries: { content: string; record: string; signature: string },
  parent: string,
): string {
  const tree = gitCli(
    dir,
    ['mktree'],
    `040000 tree ${entries.content}\tcontent\n100644 blob ${entries.record}\trecord.json\n100644 blob ${entries.signature}\tsignature.json\n`,
  );
  return gitCli(dir, ['commit-tree', tree, '-p', parent, '-m', 'forged']);
}

function blobOf(dir: string, bytes: Uint8Array | string): string {
  return execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: dir, input: bytes }).toString().trim();
}

describe('atom claim, publish, verify', () => {
  it('round trip: the verified content digest is the store digest of a checkout', async () => {
    const { dir, repo, source } = await published();
    const v = await verifyAtom(repo, 'zlib', '1.3.1', verifier);
    expect(v.keyName).toBe('alice');
    expect(v.record.source).toEqual({ commit: source, path: 'zlib' });
    expect(v.files).toBe(4);
    // The store's ingest of the same directory on disk gives the same tree digest.
    const store = new Store(join(tempDir('store'), 's'));
    const ingested = await store.ingest(join(dir, 'zlib'));
    expect(v.record.content).toBe(ingested.digest);
    expect(v.record.manifest).toBe(digestBytes(manifest('zlib', '1.3.1')));
    expect(v.digest).toBe(recordDigest(v.record));
    const state = await readSetState(repo);
    expect(state.claims.map((c) => c.label)).toEqual(['zlib']);
    expect(state.atoms.map((a) => `${a.label}@${a.version}`)).toEqual(['zlib@1.3.1']);
  });

  it('publishing is idempotent, deterministic, and fsck --full --strict clean', async () => {
    const { dir, repo } = await published();
    const alice = await signerFromKey(config, 'alice');
    const again = await publishAtom(repo, join(dir, 'zlib'), alice);
    expect(again.created).toBe(false);
    const claim = await claimLabel(repo, 'zlib', alice);
    expect(claim.created).toBe(false);
    // A second atom in the same repository, at the root of another directory.
    writeFiles(dir, { 'other/atom.toml': manifest('other', '0.1.0', { zlib: '^1.3' }) });
    commitAll(dir, 'other atom');
    await claimLabel(repo, 'other', alice);
    await publishAtom(repo, join(dir, 'other'), alice);
    expect(gitCli(dir, ['fsck', '--full', '--strict', '--no-progress'])).toBe('');
    const refs = gitCli(dir, ['for-each-ref', '--format=%(refname)', 'refs/eos']).split('\n');
    expect(refs).toEqual([
      'refs/eos/atoms/other/0.1.0',
      'refs/eos/atoms/zlib/1.3.1',
      'refs/eos/claims/other',
      'refs/eos/claims/zlib',
      'refs/eos/set',
    ]);
    // Objects written by Eos have a fixed author and time: equal inputs, equal object ids.
    expect(gitCli(dir, ['log', '-1', '--format=%an <%ae> %at', 'refs/eos/atoms/zlib/1.3.1'])).toBe(
      'eos <eos@localhost> 0',
    );
  });

  it('refuses a republished version with other content', async () => {
    const { dir, repo } = await published();
    writeFiles(dir, { 'zlib/src/zlib.c': 'int main(void) { return 1; }\n', 'zlib/new.txt': 'new\n' });
    // Work-tree changes are not published; they are reported.
    expect(await uncommittedUnder(repo, join(dir, 'zlib'))).toEqual(['zlib/new.txt', 'zlib/src/zlib.c']);
    expect(await uncommittedUnder(repo, join(dir, 'other'))).toEqual([]);
    writeFiles(dir, { '.gitignore': '*.o\n' });
    commitAll(dir, 'change');
    expect(await uncommittedUnder(repo, join(dir, 'zlib'))).toEqual([]);
    // Ignored files are not changes; deleted files and mode changes are.
    writeFiles(dir, { 'zlib/src/zlib.o': 'object\n' });
    rmSync(join(dir, 'zlib/include/zlib.h'));
    chmodSync(join(dir, 'zlib/src/zlib.c'), 0o755);
    expect(await uncommittedUnder(repo, join(dir, 'zlib'))).toEqual([
      'zlib/include/zlib.h',
      'zlib/src/zlib.c',
    ]);
    const e = await atomError(publishAtom(repo, join(dir, 'zlib'), await signerFromKey(config, 'alice')));
    expect(e.message).toMatch(
      /^\[E20\] zlib@1\.3\.1 is already published with other content \(blake3:[0-9a-f]{64}, from commit [0-9a-f]{12}\); versions are immutable$/,
    );
    // A change outside the atom gives the same content from another commit: refused too.
    const { dir: d2, repo: r2 } = await published();
    writeFiles(d2, { 'README.md': 'changed\n' });
    commitAll(d2, 'readme');
    const e2 = await atomError(publishAtom(r2, join(d2, 'zlib'), await signerFromKey(config, 'alice')));
    expect(e2.message).toMatch(/already published \(same content, from commit [0-9a-f]{12}\)/);
  });

  it('refuses claims and publishes by a key that does not hold the claim', async () => {
    const { dir, repo } = await published();
    const mallory = await signerFromKey(config, 'mallory');
    const alice = await signerFromKey(config, 'alice');
    expect((await atomError(claimLabel(repo, 'zlib', mallory))).message).toBe(
      `[E20] zlib is already claimed by key ${alice.key}`,
    );
    writeFiles(dir, { 'zlib/atom.toml': manifest('zlib', '1.3.2') });
    commitAll(dir, 'bump');
    expect((await atomError(publishAtom(repo, join(dir, 'zlib'), mallory))).message).toBe(
      `[E20] zlib@1.3.2: zlib is claimed by key ${alice.key}, not by key ${mallory.key}`,
    );
    writeFiles(dir, { 'new/atom.toml': manifest('newlib', '1.0.0') });
    commitAll(dir, 'new');
    const e = await atomError(publishAtom(repo, join(dir, 'new'), alice));
    expect(e.message).toBe('[E20] newlib@1.0.0: newlib is not claimed in this repository');
    expect(e.hint).toBe('eos atom claim newlib --key NAME');
    // An invalid manifest is the manifest's error, located in the committed file.
    writeFiles(dir, { 'bad/atom.toml': '[atom]\nlabel = "bad"\nversion = "1"\n' });
    commitAll(dir, 'bad');
    await expect(publishAtom(repo, join(dir, 'bad'), alice)).rejects.toThrow(ManifestError);
    await expect(publishAtom(repo, join(dir, 'bad'), alice)).rejects.toThrow(
      '[E16] bad/atom.toml:3: atom.version: "1" is not a version',
    );
  });

  it('tamper: a file changed in the published subtree (forged ref to another commit)', async () => {
    const { dir, repo, source, pub } = await published();
    writeFiles(dir, { 'zlib/src/zlib.c': 'int main(void) { return 42; }\n' });
    const evil = commitAll(dir, 'evil');
    const evilTree = gitCli(dir, ['rev-parse', `${evil}:zlib`]);
    const forged = forgePublish(
      dir,
      {
        content: evilTree,
        record: gitCli(dir, ['rev-parse', `${pub}:record.json`]),
        signature: gitCli(dir, ['rev-parse', `${pub}:signature.json`]),
      },
      source,
    );
    gitCli(dir, ['update-ref', 'refs/eos/atoms/zlib/1.3.1', forged]);
    const e = await atomError(verifyAtom(repo, 'zlib', '1.3.1', verifier));
    expect(e.data.check).toBe('content');
    expect(e.message).toMatch(
      /^\[E20\] zlib@1\.3\.1: content digest of the published tree is blake3:[0-9a-f]{64}, but the record says blake3:[0-9a-f]{64}$/,
    );
    // The same forgery with the evil commit as parent: still the content that fails first.
    gitCli(dir, [
      'update-ref',
      'refs/eos/atoms/zlib/1.3.1',
      forgePublish(
        dir,
        {
          content: evilTree,
          record: gitCli(dir, ['rev-parse', `${pub}:record.json`]),
          signature: gitCli(dir, ['rev-parse', `${pub}:signature.json`]),
        },
        evil,
      ),
    ]);
    expect((await atomError(verifyAtom(repo, 'zlib', '1.3.1', verifier))).data.check).toBe('content');
  });

  it('tamper: the right content but a publish commit whose parent is another commit', async () => {
    const { dir, repo, pub } = await published();
    writeFiles(dir, { 'README.md': 'other\n' });
    const other = commitAll(dir, 'other');
    const forged = forgePublish(
      dir,
      {
        content: gitCli(dir, ['rev-parse', `${pub}:content`]),
        record: gitCli(dir, ['rev-parse', `${pub}:record.json`]),
        signature: gitCli(dir, ['rev-parse', `${pub}:signature.json`]),
      },
      other,
    );
    gitCli(dir, ['update-ref', 'refs/eos/atoms/zlib/1.3.1', forged]);
    const e = await atomError(verifyAtom(repo, 'zlib', '1.3.1', verifier));
    expect(e.data.check).toBe('source');
    expect(e.message).toMatch(/has parent [0-9a-f]{40}, but the record names source commit [0-9a-f]{40}$/);
  });

  it('tamper: a ref pointing at another version, and a set index that disagrees', async () => {
    const { dir, repo, pub } = await published();
    const alice = await signerFromKey(config, 'alice');
    writeFiles(dir, { 'zlib/atom.toml': manifest('zlib', '1.4.0') });
    commitAll(dir, '1.4.0');
    const newer = await publishAtom(repo, join(dir, 'zlib'), alice);
    gitCli(dir, ['update-ref', 'refs/eos/atoms/zlib/1.3.1', newer.commit]);
    const e = await atomError(verifyAtom(repo, 'zlib', '1.3.1', verifier));
    expect(e.message).toBe('[E20] zlib@1.3.1: the record is for zlib@1.4.0');
    gitCli(dir, ['update-ref', 'refs/eos/atoms/zlib/1.3.1', pub]);
    await verifyAtom(repo, 'zlib', '1.3.1', verifier);
    // A validly signed but different record for 1.3.1 (a republish behind the set's back).
    const record = JSON.parse(gitCli(dir, ['cat-file', 'blob', `${pub}:record.json`])) as PublishRecord;
    // Another commit that holds the very same zlib subtree.
    writeFiles(dir, { 'zlib/atom.toml': manifest('zlib', '1.3.1'), 'README.md': 'again\n' });
    const same = commitAll(dir, 'same zlib as 1.3.1');
    const other = { ...record, source: { ...record.source, commit: same } };
    const k = await readSecretKey(config, 'alice');
    const forged = forgePublish(
      dir,
      {
        content: gitCli(dir, ['rev-parse', `${pub}:content`]),
        record: blobOf(dir, encodeCanonical(other)),
        signature: blobOf(dir, encodeCanonical(signDigest(recordDigest(other), 'atoms', k.seed))),
      },
      same,
    );
    gitCli(dir, ['update-ref', 'refs/eos/atoms/zlib/1.3.1', forged]);
    const e2 = await atomError(verifyAtom(repo, 'zlib', '1.3.1', verifier));
    expect(e2.data.check).toBe('set');
    expect(e2.message).toMatch(/refs\/eos\/set indexes another publish tree/);
  });

  it('tamper: a record signed by another (trusted) key', async () => {
    const { dir, repo, source, pub } = await published();
    const m = await readSecretKey(config, 'mallory');
    const recordBlob = gitCli(dir, ['rev-parse', `${pub}:record.json`]);
    const record = JSON.parse(gitCli(dir, ['cat-file', 'blob', recordBlob])) as PublishRecord;
    const sig = signDigest(recordDigest(record), 'atoms', m.seed);
    const forged = forgePublish(
      dir,
      {
        content: gitCli(dir, ['rev-parse', `${pub}:content`]),
        record: recordBlob,
        signature: blobOf(dir, encodeCanonical(sig)),
      },
      source,
    );
    gitCli(dir, ['update-ref', 'refs/eos/atoms/zlib/1.3.1', forged]);
    const e = await atomError(verifyAtom(repo, 'zlib', '1.3.1', verifier));
    expect(e.data.check).toBe('key');
    expect(e.message).toBe(
      `[E20] zlib@1.3.1: the record is signed by key ${m.id}, not by the claim's key ${(await readSecretKey(config, 'alice')).id}`,
    );
    // A signature by the right key id over other bytes: the signature check names it.
    const a = await readSecretKey(config, 'alice');
    const wrong = signDigest(digestBytes('something else'), 'atoms', a.seed);
    const forged2 = forgePublish(
      dir,
      {
        content: gitCli(dir, ['rev-parse', `${pub}:content`]),
        record: recordBlob,
        signature: blobOf(dir, encodeCanonical(wrong)),
      },
      source,
    );
    gitCli(dir, ['update-ref', 'refs/eos/atoms/zlib/1.3.1', forged2]);
    const e2 = await atomError(verifyAtom(repo, 'zlib', '1.3.1', verifier));
    expect(e2.data.check).toBe('signature');
    expect(e2.message).toMatch(
      /publish signature signs blake3:[0-9a-f]{64}, not the expected blake3:[0-9a-f]{64} \(wrong digest\)/,
    );
  });

  it('tamper: an untrusted key', async () => {
    const dir = makeRepo({ 'eve/atom.toml': manifest('evelib', '1.0.0') });
    const repo = await openRepo(dir);
    const eve = await signerFromKey(config, 'eve');
    await claimLabel(repo, 'evelib', eve);
    await publishAtom(repo, join(dir, 'eve'), eve);
    const e = await atomError(verifyAtom(repo, 'evelib', '1.0.0', verifier));
    expect(e.data.check).toBe('trust');
    expect(e.message).toMatch(
      /^\[E20\] evelib@1\.0\.0: claim signature by key blake3:[0-9a-f]{64} \("eve"\) is valid but the key is not trusted for "atoms"/,
    );
    expect(e.hint).toBe('if you trust it: eos key trust eve --for atoms');
  });

  it('a missing claim, a missing source commit', async () => {
    const { dir, repo } = await published();
    gitCli(dir, ['update-ref', '-d', 'refs/eos/claims/zlib']);
    const e = await atomError(verifyAtom(repo, 'zlib', '1.3.1', verifier));
    expect(e.message).toBe('[E20] zlib@1.3.1: zlib has no claim (refs/eos/claims/zlib is missing)');
    expect((await atomError(verifyAtom(repo, 'zlib', '9.9.9', verifier))).message).toBe(
      '[E20] zlib@9.9.9: refs/eos/atoms/zlib/9.9.9 does not exist',
    );
  });
});

describe('eos atom (CLI, separate processes, a clone)', () => {
  function eos(args: string[], cwd: string): { code: number; out: string; err: string } {
    const r = spawnSync(join(repoRoot, 'bin', 'eos.mjs'), args, {
      cwd,
      encoding: 'utf8',
      env: { ...process.env, EOS_CONFIG_DIR: config },
    });
    return { code: r.status ?? -1, out: r.stdout.trim(), err: r.stderr.trim() };
  }

  it('claim, publish in one process; verify from a clone in another', async () => {
    const dir = makeRepo({ 'lib/atom.toml': manifest('libfoo', '2.0.0'), 'lib/foo.c': 'int foo;\n' });
    const c = eos(['atom', 'claim', 'libfoo', '--key', 'alice'], dir);
    expect(c.err).toBe('');
    expect(c.code).toBe(0);
    expect(c.out).toMatch(/^claimed\tlibfoo\tblake3:[0-9a-f]{64}\tblake3:[0-9a-f]{64}$/);
    const p = eos(['atom', 'publish', 'lib', '--key', 'alice'], dir);
    expect(p.code).toBe(0);
    expect(p.out).toMatch(/^published\tlibfoo\t2\.0\.0\tblake3:[0-9a-f]{64}\tblake3:[0-9a-f]{64}$/);
    const record = p.out.split('\t')[3];
    // A mirror clone carries refs/eos/*; verification needs nothing else.
    const clone = join(tempDir('clone'), 'mirror.git');
    gitCli(dir, ['clone', '-q', '--mirror', dir, clone]);
    expect(gitCli(clone, ['fsck', '--full', '--strict', '--no-progress'])).toBe('');
    const v = eos(['atom', 'verify', 'libfoo@2.0.0', '--repo', `file://${clone}`], tempDir('elsewhere'));
    expect(v.code).toBe(0);
    expect(v.out).toBe(`ok\tlibfoo\t2.0.0\t${record}\talice`);
    // A plain clone plus a fetch of refs/eos/* works the same.
    const plain = join(tempDir('clone'), 'plain');
    gitCli(dir, ['clone', '-q', dir, plain]);
    gitCli(plain, ['fetch', '-q', 'origin', 'refs/eos/*:refs/eos/*']);
    expect(eos(['atom', 'verify', '--repo', plain], dir).out).toBe(`ok\tlibfoo\t2.0.0\t${record}\talice`);
    const l = eos(['atom', 'list', '--repo', clone], dir);
    expect(l.out).toMatch(new RegExp(`^libfoo\t2\\.0\\.0\t${record}\tblake3:[0-9a-f]{64}$`));
    // Errors are one line with the code.
    const bad = eos(['atom', 'verify', 'libfoo@3.0.0', '--repo', clone], dir);
    expect(bad.code).toBe(1);
    expect(bad.err).toBe('eos: [E20] libfoo@3.0.0: refs/eos/atoms/libfoo/3.0.0 does not exist');
  });
});
