/**
 * The observed world (`eos build --observe`): the world's merged view served read-only over FUSE
 * by a server process of its own (`world-server.mjs`: a process that reads its own FUSE mount
 * deadlocks), bound by the sandbox at `/` like a hard-link world directory, so the sandbox itself
 * is unchanged. The server records every lookup (found or failed), readdir, readlink, open and read
 * per path; when the build ends its record becomes a read set (read-set.ts) that names, for each
 * file or symlink, the world entry that provided it.
 *
 * @see specs/observe.md §2 (the server), §3 (the read set), §4 (attribution)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import { getPriority, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ObserveError, type Digest, type Store, type TreeEntry } from '../../src/kernel/index.ts';
import { worldTree, type World, type WorldLayer } from '../build-world.ts';
import { makeReadSet, type ReadOp, type ReadPath, type ReadSet } from './read-set.ts';

/** How long the server may take to mount, in milliseconds. */
const READY_TIMEOUT_MS = 60_000;
/** How long the server may take to unmount and write its record after SIGTERM, in milliseconds. */
const STOP_TIMEOUT_MS = 30_000;

/** Whether builds can be observed here, and if not, why (for the "building unobserved" note). */
export type ObserveAvailability = { ok: true } | { ok: false; reason: string };

/**
 * Whether an observed world can be served here: `/dev/fuse` exists, `fusermount` is installed and
 * npm `fuse-native`'s binding loads (it links Debian's `libfuse.so.2`). Never throws.
 */
export function observeAvailable(): ObserveAvailability {
  if (!existsSync('/dev/fuse')) return { ok: false, reason: '/dev/fuse is missing' };
  if (!['/usr/bin/fusermount', '/bin/fusermount'].some((p) => existsSync(p)))
    return { ok: false, reason: 'fusermount is not installed (Debian package fuse; run scripts/setup.sh)' };
  try {
    createRequire(import.meta.url)('fuse-native');
  } catch (e) {
    return {
      ok: false,
      reason: `the fuse-native binding does not load (${(e as Error).message.split('\n')[0]}; Debian package libfuse2)`,
    };
  }
  return { ok: true };
}

/** The server's record: path → operations (`missing` for a failed lookup), and the number of operations. */
export interface ServerEvents {
  paths: Record<string, string[]>;
  ops: number;
}

/** A running world server. */
export interface WorldServer {
  /** The mount point: bind it read-only at `/`. */
  mountPoint: string;
  /**
   * Stops the server: it unmounts and writes its record, which is returned. Idempotent.
   * @throws ObserveError E50 when the server died, or left no record
   */
  stop(): Promise<ServerEvents>;
}

/** Whether `dir` is a mount point now (`/proc/self/mountinfo`'s fifth field). */
function mounted(dir: string): boolean {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((l) => l.split(' ')[4] === dir);
  } catch {
    return false;
  }
}

/** The server script beside this module (copied as is into dist/ by the build). */
function serverScript(): string {
  return join(fileURLToPath(new URL('.', import.meta.url)), 'world-server.mjs');
}

/**
 * Starts a server for a merged view tree of `store` on a fresh mount point.
 * @param what names the build in errors (`zlib 1.2.13`)
 * @throws ObserveError E50 when the server cannot mount within {@link READY_TIMEOUT_MS}
 */
export async function startWorldServer(store: Store, tree: Digest, what: string): Promise<WorldServer> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'eos-observe-'));
  const mnt = join(dir, 'world');
  const eventsFile = join(dir, 'events.json');
  await fs.mkdir(mnt);
  // The server dies with eos (setpriv's parent-death signal), and auto_unmount then removes the mount.
  const argv = ['--pdeathsig', 'KILL', process.execPath, serverScript(), store.root, tree, mnt, eventsFile];
  const child: ChildProcess = spawn('setpriv', argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  // Every file operation of the build waits on this one process: run it a little ahead of the
  // build's own processes (5 nice levels; root may raise a priority), so that a loaded machine
  // delays the build's compilers rather than the server that feeds all of them.
  try {
    setPriority(child.pid!, Math.max(-20, getPriority() - 5));
  } catch {
    /* not permitted: it runs at the build's priority */
  }
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  const cleanup = async (): Promise<void> => {
    if (mounted(mnt)) spawnSync('fusermount', ['-u', '-z', mnt], { stdio: 'ignore' });
    await fs.rm(eventsFile, { force: true });
    await fs.rmdir(mnt).catch(() => undefined);
    await fs.rmdir(dir).catch(() => undefined);
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out')), READY_TIMEOUT_MS);
      let out = '';
      child.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('ready\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('error', (e) => reject(e));
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`exited ${code}`));
      });
    });
  } catch (e) {
    child.kill('SIGKILL');
    await cleanup();
    throw new ObserveError(
      `world server for ${what}: cannot mount ${mnt} (${(e as Error).message}): ${stderr.trim() || 'no output'}`,
      { hint: 'needs root, /dev/fuse, fusermount and libfuse2 (scripts/setup.sh)' },
    );
  }
  let stopped: Promise<ServerEvents> | undefined;
  return {
    mountPoint: mnt,
    stop() {
      stopped ??= (async () => {
        try {
          if (child.exitCode === null) child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
          const code = await exited;
          clearTimeout(timer);
          let events: ServerEvents;
          try {
            events = JSON.parse(await fs.readFile(eventsFile, 'utf8')) as ServerEvents;
          } catch {
            throw new ObserveError(
              `world server for ${what}: exited ${code} without a record of the reads: ${stderr.trim() || 'no output'}`,
            );
          }
          if (code !== 0)
            throw new ObserveError(
              `world server for ${what}: exited ${code}: ${stderr.trim() || 'no output'}`,
            );
          return events;
        } finally {
          await cleanup();
        }
      })();
      return stopped;
    },
  };
}

/** Looks up nodes by path in stored trees (each tree read once). */
class TreeWalker {
  private readonly trees = new Map<Digest, Map<string, TreeEntry>>();
  constructor(private readonly store: Store) {}
  private async tree(d: Digest): Promise<Map<string, TreeEntry>> {
    let t = this.trees.get(d);
    if (!t) {
      t = new Map((await this.store.getTree(d)).entries.map((e) => [e.name, e]));
      this.trees.set(d, t);
    }
    return t;
  }
  /** The node at an absolute path below the tree `root` (`/` is the root itself), or undefined. */
  async nodeAt(
    root: Digest,
    path: string,
  ): Promise<TreeEntry | { kind: 'directory'; digest: Digest } | undefined> {
    let node: TreeEntry | { kind: 'directory'; digest: Digest } = { kind: 'directory', digest: root };
    for (const part of path.split('/').filter(Boolean)) {
      if (node.kind !== 'directory') return undefined;
      const next = (await this.tree(node.digest)).get(part);
      if (!next) return undefined;
      node = next;
    }
    return node;
  }
}

/**
 * The entry that provides each path: for a file or symlink of the merged view, the first layer (in
 * precedence order, highest first) holding a node there (specs/observe.md §4).
 * @returns path → entry name, for the paths given that are files or symlinks in the view
 */
export async function providers(
  store: Store,
  layers: readonly WorldLayer[],
  paths: readonly string[],
): Promise<Map<string, string>> {
  const walker = new TreeWalker(store);
  const out = new Map<string, string>();
  for (const p of paths)
    for (const l of layers) {
      const n = await walker.nodeAt(l.tree, p);
      if (n && n.kind !== 'directory') {
        out.set(p, l.name);
        break;
      }
    }
  return out;
}

/**
 * Turns a server's record into the build's read set: each path's kind from the merged view, its
 * providing entry (files and symlinks), its operations; a failed lookup is a `missing` path.
 * @throws NotObservedError E51 when the record cannot make a valid read set
 */
export async function readSetFromEvents(store: Store, world: World, events: ServerEvents): Promise<ReadSet> {
  const walker = new TreeWalker(store);
  const paths: ReadPath[] = [];
  const found: string[] = [];
  const kinds = new Map<string, 'file' | 'directory' | 'symlink'>();
  const tree = await worldTree(store, world);
  for (const [path, ops] of Object.entries(events.paths)) {
    const node = ops.includes('missing') ? undefined : await walker.nodeAt(tree, path);
    if (!node) {
      paths.push({ path, kind: 'missing', entry: null, ops: ['lookup'] });
      continue;
    }
    kinds.set(path, node.kind);
    if (node.kind !== 'directory') found.push(path);
  }
  const owner = await providers(store, world.layers, found);
  for (const [path, kind] of kinds)
    paths.push({
      path,
      kind,
      entry: kind === 'directory' ? null : (owner.get(path) ?? null),
      ops: events.paths[path]!.filter((o): o is ReadOp => o !== 'missing'),
    });
  return makeReadSet(world.root, paths);
}
