/**
 * The build graph of a lock (src/build/build-graph.ts), without the CLI and without building: a
 * published atom is exported from its set at the locked commit with its content digest checked,
 * and a damaged set repository is a named error (E20), not an internal error.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  claimLabel,
  lockWorkspace,
  openRepo,
  parseLock,
  publishAtom,
  signerFromKey,
  verifierFromConfig,
} from '../../atoms/index.ts';
import { buildLock, loadBuildGraph } from '../../src/build/index.ts';
import { AtomError, Store } from '../../src/kernel/index.ts';
import { commitAll, gitCli, makeConfig, makeRepo } from '../atoms/fixture.ts';

function atom(dir: string, label: string, deps: Record<string, string>, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  const depLines = Object.entries(deps).map(([k, v]) => `${k} = "${v}"`);
  const head = ['[atom]', `label = "${label}"`, 'version = "1.0.0"', '', '[deps]', ...depLines, ''];
  writeFileSync(join(dir, 'atom.toml'), [...head, '[build]', 'recipe = "std.make"', ''].join('\n'));
  for (const [n, t] of Object.entries(files)) writeFileSync(join(dir, n), t);
}

let setDir: string;
let ws: string;

beforeAll(async () => {
  const { config } = await makeConfig(['alice'], ['alice']);
  setDir = makeRepo({ 'README.md': 'the atom set\n' });
  atom(join(setDir, 'libgreet'), 'libgreet', {}, { 'greet.c': 'int greet;\n', Makefile: 'all:\ninstall:\n' });
  commitAll(setDir, 'libgreet 1.0.0');
  const repo = await openRepo(setDir);
  const alice = await signerFromKey(config, 'alice');
  await claimLabel(repo, 'libgreet', alice);
  await publishAtom(repo, join(setDir, 'libgreet'), alice);
  ws = mkdtempSync(join(tmpdir(), 'eos-graph-ws-'));
  atom(join(ws, 'hello'), 'hello', { libgreet: '^1.0' }, { 'hello.c': 'int main;\n' });
  await lockWorkspace({
    root: ws,
    sets: { main: `file://${setDir}` },
    verifier: await verifierFromConfig(config),
  });
});

describe('the build graph of a lock', () => {
  it('exports a published atom at its locked content digest, beside a workspace atom', async () => {
    const staging = mkdtempSync(join(tmpdir(), 'eos-graph-staging-'));
    const nodes = await loadBuildGraph(join(ws, 'eos.lock'), staging);
    const lock = parseLock(readFileSync(join(ws, 'eos.lock'), 'utf8'), 'eos.lock');
    const lib = nodes.find((n) => n.label === 'libgreet')!;
    expect(nodes.map((n) => n.label).sort()).toEqual(['hello', 'libgreet']);
    expect(lib.dirDigest).toBe(lock.atoms['libgreet']!.content);
    expect(readFileSync(join(lib.dir, 'greet.c'), 'utf8')).toBe('int greet;\n');
    // The exported directory has the digest the store gives it.
    const probe = new Store(mkdtempSync(join(tmpdir(), 'eos-graph-store-')));
    expect((await probe.ingest(lib.dir, { fsync: false })).digest).toBe(lib.dirDigest);
    expect(nodes.find((n) => n.label === 'hello')!.deps).toEqual(['libgreet']);
  });

  it('a damaged set repository (a missing git object) is AtomError E20 naming the object', async () => {
    const blob = gitCli(setDir, ['rev-parse', 'HEAD:libgreet/greet.c']).trim();
    const object = join(setDir, '.git', 'objects', blob.slice(0, 2), blob.slice(2));
    expect(existsSync(object)).toBe(true);
    rmSync(object);
    const staging = mkdtempSync(join(tmpdir(), 'eos-graph-staging-'));
    const err = await loadBuildGraph(join(ws, 'eos.lock'), staging).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AtomError);
    expect((err as AtomError).message).toMatch(
      new RegExp(`^\\[E20\\] ${setDir}/\\.git: git blob ${blob} is missing or unreadable`),
    );
    // Through the whole build system too: the error comes before any seed or build is needed.
    const store = new Store(mkdtempSync(join(tmpdir(), 'eos-graph-store-')));
    await expect(buildLock({ lock: join(ws, 'eos.lock'), store })).rejects.toThrow(/^\[E20\] .*git blob/);
  });
});
