/**
 * An atom with `[fetch]` in a lock's graph (specs/fetch.md §7.1), without building: no fetch.lock is
 * E62 before anything runs; with one, the atom is two nodes (`LABEL.fetch`, then the build, which
 * depends on it); the fetch action's key covers the lock's bytes and `--fetch-env`, its recipe is
 * the fetch identity (the spec's vector). The real replay is tests/examples/npm-build.test.ts.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  claimLabel,
  lockWorkspace,
  openRepo,
  publishAtom,
  signerFromKey,
  verifierFromConfig,
} from '../../atoms/index.ts';
import { FETCH_ACTION_IDENTITY, readSeedLock } from '../../executor/index.ts';
import {
  buildLock,
  isFetchNode,
  loadBuildGraph,
  lockActionKey,
  fetchActionArgs,
  withFetchActions,
  type BuildNode,
} from '../../src/build/index.ts';
import { BuildClosureError, FetchNotRecordedError, Store, digestBytes } from '../../src/kernel/index.ts';
import { commitAll, makeConfig, makeRepo, repoRoot } from '../atoms/fixture.ts';

let ws: string;
const FETCHER =
  '[atom]\nlabel = "fetcher"\nversion = "1.0.0"\n\n[fetch]\nscript = "npm ci"\n\n[fetch.env]\nA = "1"\n\n' +
  '[build]\nrecipe = "std.shell"\nscript = "true"\n';

beforeAll(async () => {
  const { config } = await makeConfig(['alice'], ['alice']);
  const setDir = makeRepo({ 'README.md': 'a set\n' });
  mkdirSync(join(setDir, 'stub'));
  writeFileSync(join(setDir, 'stub', 'atom.toml'), '[atom]\nlabel = "stub"\nversion = "1.0.0"\n');
  commitAll(setDir, 'stub');
  const repo = await openRepo(setDir);
  const alice = await signerFromKey(config, 'alice');
  await claimLabel(repo, 'stub', alice);
  await publishAtom(repo, join(setDir, 'stub'), alice);
  ws = mkdtempSync(join(tmpdir(), 'eos-fetch-graph-'));
  writeFileSync(
    join(ws, 'atom.toml'),
    '[atom]\nlabel = "app"\nversion = "0.1.0"\n\n[deps]\nfetcher = "^1.0"\n',
  );
  mkdirSync(join(ws, 'fetcher'));
  writeFileSync(join(ws, 'fetcher', 'atom.toml'), FETCHER);
  await lockWorkspace({
    root: ws,
    sets: { main: `file://${setDir}` },
    verifier: await verifierFromConfig(config),
  });
});

describe('an atom with [fetch] in the graph of a lock', () => {
  it('no fetch.lock: E62 naming the directory and eos fetch --record, before anything runs', async () => {
    const staging = mkdtempSync(join(tmpdir(), 'eos-fetch-graph-staging-'));
    const err = await loadBuildGraph(join(ws, 'eos.lock'), staging).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchNotRecordedError);
    const dir = join(ws, 'fetcher');
    expect((err as Error).message).toBe(
      `[E62] fetcher 1.0.0: [fetch] but no fetch.lock in ${dir}; record it: eos fetch ${dir} --record`,
    );
    // Through the build system too: before the seed lock is even read.
    const store = new Store(mkdtempSync(join(tmpdir(), 'eos-fetch-graph-store-')));
    await expect(buildLock({ lock: join(ws, 'eos.lock'), store })).rejects.toThrow(/^\[E62\] fetcher/);
  });

  it('two nodes; the fetch key covers the lock bytes and --fetch-env; the fetch identity vector', async () => {
    expect(FETCH_ACTION_IDENTITY).toBe(
      'blake3:84cc9d6f31d0122c722f5aa1e49fa0d7fac02c876e9daad75cd350b616e88b6f',
    );
    expect(FETCH_ACTION_IDENTITY).toBe(digestBytes('{"format":"eos.fetch-action","version":1}'));
    const lockText = '{"entries":[],"format":"eos.fetch-lock","version":1}';
    writeFileSync(join(ws, 'fetcher', 'fetch.lock'), lockText);
    const staging = mkdtempSync(join(tmpdir(), 'eos-fetch-graph-staging-'));
    const nodes = await loadBuildGraph(join(ws, 'eos.lock'), staging);
    const b = nodes.find((n) => n.label === 'fetcher')!;
    expect(b.fetch).toMatchObject({ label: 'fetcher.fetch', digest: digestBytes(lockText) });
    const graph = withFetchActions(nodes);
    expect(graph.map((n) => [n.label, [...n.deps]])).toEqual([
      ['fetcher.fetch', []],
      ['fetcher', ['fetcher.fetch']],
    ]);
    const f = graph.find(isFetchNode)!;
    // Keys: the fetch's differs from the build's; it moves with the lock's bytes and with --fetch-env.
    const seed = await readSeedLock(join(repoRoot, 'examples', 'seed', 'seed.lock'));
    const key = lockActionKey(seed);
    const k = await key(f, {});
    expect(k).not.toBe(await key(b, { 'fetcher.fetch': digestBytes('tree') }));
    expect(await key(f, {})).toBe(k);
    expect(await lockActionKey(seed, { fetchEnv: { A: '2' } })(f, {})).not.toBe(k);
    expect(await lockActionKey(seed, { fetchEnv: { A: '1' } })(f, {})).toBe(k);
    const other = { ...f, atom: { ...f.atom, fetch: { ...f.atom.fetch, digest: digestBytes('x') } } };
    expect(await key(other, {})).not.toBe(k);
    // The build's key covers its fetch tree.
    expect(await key(b, { 'fetcher.fetch': digestBytes('tree') })).not.toBe(
      await key(b, { 'fetcher.fetch': digestBytes('other tree') }),
    );
    expect(fetchActionArgs(f, { B: 'x' })).toEqual({
      script: 'npm ci',
      env: { A: '1', B: 'x' },
      'fetch-lock': digestBytes(lockText),
    });
  });

  it('an atom labelled like a fetch node is E7', () => {
    const base = { deps: [], version: '1.0.0' } as unknown as BuildNode;
    const a = { ...base, label: 'x', fetch: { label: 'x.fetch' } } as unknown as BuildNode;
    const clash = { ...base, label: 'x.fetch' } as unknown as BuildNode;
    expect(() => withFetchActions([a, clash])).toThrow(BuildClosureError);
    expect(() => withFetchActions([a, clash])).toThrow(/x\.fetch is an atom of the lock/);
  });
});
