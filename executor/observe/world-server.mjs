// The observed world's FUSE server (specs/observe.md §2): serves one merged view tree of a store
// read-only at a mount point, and records, per path, every lookup (found or not), readdir,
// readlink, open and read. File contents pass through to the store's object files (one
// descriptor per open, `pread` per read); trees are read lazily from `STORE/trees/`.
//
// It runs in its own process (a process that reads its own FUSE mount synchronously deadlocks):
//   node world-server.mjs STORE_DIR TREE_DIGEST MOUNT_POINT EVENTS_FILE
// It prints `ready` on stdout once mounted. On SIGTERM or SIGINT it unmounts, writes EVENTS_FILE
// (JSON: {"paths": {PATH: [OP, …]}, "ops": N}) through a temp file and a rename, and exits 0.
// `auto_unmount` makes fusermount remove the mount should this process die some other way.
import { closeSync, fsyncSync, openSync, readFileSync, readSync, renameSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Fuse = require('fuse-native');

const [storeDir, rootDigest, mnt, eventsFile] = process.argv.slice(2);
if (!storeDir || !rootDigest || !mnt || !eventsFile) {
  process.stderr.write('usage: world-server.mjs STORE_DIR TREE_DIGEST MOUNT_POINT EVENTS_FILE\n');
  process.exit(2);
}

/** Fixed times for every node (the world has no times of its own): 2023-11-14T22:13:20Z. */
const EPOCH = new Date(1700000000 * 1000);

/** Operation bits, recorded per path. */
const OPS = ['lookup', 'missing', 'readdir', 'readlink', 'open', 'read'];
const BIT = Object.fromEntries(OPS.map((o, i) => [o, 1 << i]));
/** @type {Map<string, number>} path → bitmask of OPS */
const events = new Map();
let opCount = 0;
function note(path, op) {
  opCount++;
  events.set(path, (events.get(path) ?? 0) | BIT[op]);
}

/** Object path of a digest under a store directory (`objects` or `trees`). */
function objectPath(kind, digest) {
  const hex = digest.slice('blake3:'.length);
  return `${storeDir}/${kind}/${hex.slice(0, 2)}/${hex.slice(2)}`;
}

/** @type {Map<string, Map<string, object>>} tree digest → name → entry */
const trees = new Map();
function tree(digest) {
  let t = trees.get(digest);
  if (!t) {
    const parsed = JSON.parse(readFileSync(objectPath('trees', digest), 'utf8'));
    t = new Map(parsed.entries.map((e) => [e.name, e]));
    trees.set(digest, t);
  }
  return t;
}

const ROOT = { kind: 'directory', digest: rootDigest, size: 0 };
/** @type {Map<string, object | null>} path → entry (null: absent) */
const nodes = new Map([['/', ROOT]]);
function resolvePath(path) {
  const hit = nodes.get(path);
  if (hit !== undefined) return hit;
  const cut = path.lastIndexOf('/');
  const parent = resolvePath(cut === 0 ? '/' : path.slice(0, cut));
  const node =
    parent && parent.kind === 'directory' ? (tree(parent.digest).get(path.slice(cut + 1)) ?? null) : null;
  nodes.set(path, node);
  return node;
}

function stat(node) {
  const common = { mtime: EPOCH, atime: EPOCH, ctime: EPOCH, uid: 0, gid: 0 };
  if (node.kind === 'directory') return { ...common, mode: 0o40755, size: 4096, nlink: 2 };
  if (node.kind === 'symlink')
    return { ...common, mode: 0o120777, size: Buffer.byteLength(node.target), nlink: 1 };
  return { ...common, mode: node.executable ? 0o100755 : 0o100644, size: node.size, nlink: 1 };
}

const ops = {
  getattr(path, cb) {
    let node;
    try {
      node = resolvePath(path);
    } catch {
      return cb(Fuse.EIO);
    }
    if (!node) {
      note(path, 'missing');
      return cb(Fuse.ENOENT);
    }
    note(path, 'lookup');
    return cb(0, stat(node));
  },
  readdir(path, cb) {
    try {
      const node = resolvePath(path);
      if (!node) return cb(Fuse.ENOENT);
      if (node.kind !== 'directory') return cb(Fuse.ENOTDIR);
      note(path, 'readdir');
      return cb(0, [...tree(node.digest).keys()]);
    } catch {
      return cb(Fuse.EIO);
    }
  },
  readlink(path, cb) {
    const node = nodes.get(path) ?? null; // looked up before it is read
    if (!node) return cb(Fuse.ENOENT);
    if (node.kind !== 'symlink') return cb(Fuse.EINVAL);
    note(path, 'readlink');
    return cb(0, node.target);
  },
  open(path, flags, cb) {
    const node = nodes.get(path) ?? null; // looked up before it is opened
    if (!node) return cb(Fuse.ENOENT);
    if (node.kind === 'directory') return cb(Fuse.EISDIR);
    if ((flags & 3) !== 0) return cb(Fuse.EROFS);
    note(path, 'open');
    try {
      return cb(0, openSync(objectPath('objects', node.digest), 'r'));
    } catch {
      return cb(Fuse.EIO);
    }
  },
  read(path, fd, buf, len, pos, cb) {
    note(path, 'read');
    try {
      return cb(readSync(fd, buf, 0, len, pos));
    } catch {
      return cb(Fuse.EIO);
    }
  },
  release(path, fd, cb) {
    try {
      closeSync(fd);
    } catch {
      /* closed already */
    }
    return cb(0);
  },
  statfs(path, cb) {
    return cb(0, {
      bsize: 4096,
      frsize: 4096,
      blocks: 0,
      bfree: 0,
      bavail: 0,
      files: 0,
      ffree: 0,
      favail: 0,
      namemax: 255,
    });
  },
};

/** fuse-native knows no `negative_timeout` or `ro`: the world never changes, so the kernel may cache misses too. */
class WorldFuse extends Fuse {
  _fuseOptions() {
    return `${super._fuseOptions()},ro,negative_timeout=86400`;
  }
}

const fuse = new WorldFuse(mnt, ops, {
  allowOther: true,
  autoUnmount: true,
  kernelCache: true,
  entryTimeout: 86400,
  attrTimeout: 86400,
  fsname: 'eos-observe',
  subtype: 'eos',
});

function writeEvents() {
  const paths = {};
  for (const [p, bits] of [...events].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    paths[p] = OPS.filter((o) => bits & BIT[o]);
  const tmp = `${eventsFile}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o644);
  writeSync(fd, JSON.stringify({ paths, ops: opCount }));
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, eventsFile);
}

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  fuse.unmount((err) => {
    writeEvents();
    if (err) process.stderr.write(`eos world server: unmount: ${err.message}\n`);
    process.exit(err ? 1 : 0);
  });
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

fuse.mount((err) => {
  if (err) {
    process.stderr.write(`eos world server: cannot mount ${mnt}: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write('ready\n');
});
