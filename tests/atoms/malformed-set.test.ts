/**
 * One malformed atom in a set (issue 15, item 12): a blob where `atoms/<label>/<version>` or
 * `atoms/<label>` must be a tree (made with plain git, as a hostile or broken set would be) does
 * not block a lock that does not need it (a warning names it and its set), and is an error naming
 * the atom and the set when the lock needs it, never a bare `[E20] … git tree … is a blob`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  claimLabel,
  lockWorkspace,
  openRepo,
  publishAtom,
  signerFromKey,
  verifierFromConfig,
  type AtomVerifier,
} from '../../atoms/index.ts';
import { LockError } from '../../src/kernel/index.ts';
import { commitAll, gitCli, makeConfig, makeRepo, manifest, tempDir } from './fixture.ts';

let verifier: AtomVerifier;
let setDir = '';

/** Replaces `path` in the set commit's tree by a blob, with plain git, and moves refs/eos/set. */
function blobAt(dir: string, path: string): void {
  const env = join(dir, '.git', 'eos-test-index');
  const git = (args: string[], input?: string) =>
    gitCli(dir, ['-c', `core.indexFile=${env}`, ...args], input);
  git(['read-tree', 'refs/eos/set']);
  git(['rm', '-r', '--cached', '-q', '--ignore-unmatch', path]);
  const blob = git(['hash-object', '-w', '--stdin'], 'not a tree\n');
  git(['update-index', '--add', '--cacheinfo', `100644,${blob},${path}`]);
  const tree = git(['write-tree']);
  const commit = git(['commit-tree', tree, '-p', 'refs/eos/set', '-m', 'break it']);
  git(['update-ref', 'refs/eos/set', commit]);
}

function workspace(deps: Record<string, string>): string {
  const ws = tempDir('malformed-ws');
  mkdirSync(join(ws, 'app'));
  writeFileSync(join(ws, 'app', 'atom.toml'), manifest('app', '0.1.0', deps));
  return ws;
}

beforeAll(async () => {
  const { config } = await makeConfig(['alice'], ['alice']);
  verifier = await verifierFromConfig(config);
  setDir = makeRepo({ 'README.md': 'set\n' });
  for (const [label, version] of [
    ['zlib', '1.3.1'],
    ['broken', '1.0.0'],
    ['gone', '2.0.0'],
  ] as const) {
    mkdirSync(join(setDir, label));
    writeFileSync(join(setDir, label, 'atom.toml'), manifest(label, version));
  }
  commitAll(setDir, 'atoms');
  const repo = await openRepo(setDir);
  const alice = await signerFromKey(config, 'alice');
  for (const label of ['zlib', 'broken', 'gone']) {
    await claimLabel(repo, label, alice);
    await publishAtom(repo, join(setDir, label), alice);
  }
  blobAt(setDir, 'atoms/broken/1.0.0');
  blobAt(setDir, 'atoms/gone');
});

describe('a set with malformed atoms', () => {
  it('locks what does not need them, with a warning naming each atom and the set', async () => {
    const r = await lockWorkspace({
      root: workspace({ zlib: '^1.3' }),
      sets: { main: `file://${setDir}` },
      verifier,
    });
    expect(Object.keys(r.lock.atoms)).toEqual(['zlib']);
    expect(r.warnings).toEqual([
      'broken@1.0.0 in set main: atoms/broken/1.0.0 is a blob, not a tree (not needed by this lock)',
      'gone in set main: atoms/gone is a blob, not a tree (not needed by this lock)',
    ]);
  });

  for (const [label, shown] of [
    ['broken', 'broken@1.0.0 in set main: atoms/broken/1.0.0 is a blob, not a tree'],
    ['gone', 'gone in set main: atoms/gone is a blob, not a tree'],
  ] as const)
    it(`refuses a lock that needs ${label}, naming the atom and the set`, async () => {
      const err = await lockWorkspace({
        root: workspace({ zlib: '^1.3', [label]: '*' }),
        sets: { main: `file://${setDir}` },
        verifier,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LockError);
      expect((err as LockError).message).toBe(`[E19] ${shown}`);
    });
});
