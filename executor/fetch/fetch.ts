/**
 * Fetching fixed-output sources, outside the sandbox, before the build. A source already in the
 * store (by its pinned digest) is never fetched again. Otherwise it is fetched into a staging
 * directory, hashed, and stored only when the digest matches the pin; a mismatch raises
 * `FixedOutputMismatchError` (E13) with both digests and stores nothing.
 *
 * @see specs/executor.md §5
 */
import * as fs from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import {
  digestBytes,
  FixedOutputMismatchError,
  IoError,
  digestPath,
  probeDigest,
  type Store,
  type Digest,
} from '../../src/kernel/index.ts';
import { runProc } from '../proc.ts';
import { PrivateApt } from '../seed/apt.ts';
import { stagingDir } from '../seed/seed.ts';
import { describeSource, type FetchedSource, type SourceSpec } from './source-spec.ts';

/** Where fetchers get what they need. */
export interface FetchContext {
  store: Store;
  /** Private apt state directory for `debian-source` and `deb`; default `<store>/cache/apt`. */
  aptDir?: string;
  /** Base directory for relative `path` sources. */
  baseDir?: string;
}

function mismatch(spec: SourceSpec, got: Digest): FixedOutputMismatchError {
  return new FixedOutputMismatchError(
    `fixed-output hash mismatch for ${describeSource(spec)}: expected ${spec.digest}, got ${got}`,
    {
      data: { source: describeSource(spec), expected: spec.digest, got },
      hint: 'nothing was stored; if the new bytes are right, update the pinned digest',
    },
  );
}

/** Fetches the file of a file-kind source into `dir` and returns its path. */
async function fetchFile(spec: SourceSpec, ctx: FetchContext, dir: string): Promise<string> {
  const apt = (): PrivateApt => new PrivateApt(ctx.aptDir ?? join(ctx.store.root, 'cache', 'apt'));
  switch (spec.kind) {
    case 'path':
      return isAbsolute(spec.path) ? spec.path : resolve(ctx.baseDir ?? process.cwd(), spec.path);
    case 'debian-source': {
      const a = apt();
      await a.update();
      const files = await a.sourceDownload(spec.package, spec.version, dir);
      const main = files.filter((f) => !/\.orig-[^/]+\.tar\./.test(f));
      if (main.length !== 1)
        throw new IoError(`${describeSource(spec)}: expected one *.orig.tar.* file, found ${main.length}`);
      return main[0]!;
    }
    case 'deb': {
      const a = apt();
      await a.update();
      const arch = spec.arch ?? 'amd64';
      const got = await a.download([{ name: spec.package, version: spec.version, arch }], dir);
      return got.get(`${spec.package}=${spec.version}`)!;
    }
    case 'git':
      throw new Error('unreachable');
  }
}

/** The largest path source hashed in memory before it is stored (entries, bytes of content). */
const SMALL_PATH_SOURCE = { entries: 1024, bytes: 16 << 20 };

/**
 * Fetches one source (or finds it in the store) and returns it.
 * @throws FixedOutputMismatchError E13 when the fetched bytes do not have the pinned digest
 *   (nothing is stored); IoError E12 when a fetcher fails
 */
export async function fetchSource(spec: SourceSpec, ctx: FetchContext): Promise<FetchedSource> {
  if (await ctx.store.hasTree(spec.digest)) return { spec, digest: spec.digest, kind: 'tree', cached: true };
  if (await ctx.store.hasBlob(spec.digest)) return { spec, digest: spec.digest, kind: 'file', cached: true };
  // A path source that is a directory: hashed first (a mismatch stores nothing), then ingested.
  let treeDir: string | undefined;
  if (spec.kind === 'path') {
    const p = isAbsolute(spec.path) ? spec.path : resolve(ctx.baseDir ?? process.cwd(), spec.path);
    if ((await fs.stat(p)).isDirectory()) treeDir = p;
  }
  // A small tree (an atom's own directory) is hashed in memory, with no throwaway store
  // (specs/store.md §6.10); a bigger one in a throwaway store with the worker pool, below.
  const small = treeDir === undefined ? undefined : digestPath(treeDir, SMALL_PATH_SOURCE);
  if (treeDir !== undefined && small) {
    if (small.digest !== spec.digest) throw mismatch(spec, small.digest);
    await ctx.store.ingest(treeDir);
    return { spec, digest: spec.digest, kind: 'tree', cached: false };
  }
  const dir = await stagingDir(ctx.store, 'fetch');
  try {
    if (treeDir !== undefined) {
      const got = await probeDigest(treeDir, dir);
      if (got !== spec.digest) throw mismatch(spec, got);
      await ctx.store.ingest(treeDir);
      return { spec, digest: spec.digest, kind: 'tree', cached: false };
    }
    if (spec.kind === 'git') {
      const work = join(dir, 'repo');
      await runProc('git', ['init', '-q', work]);
      await runProc('git', ['-C', work, 'fetch', '-q', '--depth=1', spec.url, spec.commit]).catch(
        async () => {
          await runProc('git', ['-C', work, 'fetch', '-q', spec.url]);
        },
      );
      const tree = join(dir, 'tree');
      await fs.mkdir(tree);
      const archive = join(dir, 'src.tar');
      await runProc('git', ['-C', work, 'archive', '--format=tar', '-o', archive, spec.commit]);
      await runProc('tar', ['-xf', archive, '-C', tree, '--no-same-owner']);
      // Hash in a throwaway store first, so a mismatch stores nothing in the real one.
      const got = await probeDigest(tree, dir);
      if (got !== spec.digest) throw mismatch(spec, got);
      await ctx.store.ingest(tree);
      return { spec, digest: spec.digest, kind: 'tree', cached: false };
    }
    const file = await fetchFile(spec, ctx, dir);
    const bytes = await fs.readFile(file);
    const got = digestBytes(bytes);
    if (got !== spec.digest) throw mismatch(spec, got);
    await ctx.store.putBlob(bytes);
    return { spec, digest: spec.digest, kind: 'file', cached: false };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
