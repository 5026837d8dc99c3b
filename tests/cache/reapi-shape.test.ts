/**
 * The REAPI shape of an Eos action (specs/reapi.md): the vectors of §5 recomputed with the
 * upstream protos (protobufjs), the golden tree's input root checked against an independent
 * encoder (Debian's python3-protobuf with BuildStream's generated REAPI module, hashing the files
 * on disk itself), and the Command and Action parsed by it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reapiActionShape, reapiTree } from '../../cache/index.ts';
import { Store, digestBytes } from '../../src/kernel/index.ts';
import { buildGolden, tempDir } from '../helpers/fs.ts';

const PY = `
import hashlib, os, stat, sys
from buildstream._protos.build.bazel.remote.execution.v2 import remote_execution_pb2 as r
def walk(d):
    m = r.Directory()
    for name in sorted(os.listdir(d), key=lambda n: n.encode()):
        p = os.path.join(d, name); st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            s = m.symlinks.add(); s.name = name; s.target = os.readlink(p)
        elif stat.S_ISDIR(st.st_mode):
            n = m.directories.add(); n.name = name; n.digest.CopyFrom(walk(p))
        else:
            b = open(p, 'rb').read(); f = m.files.add(); f.name = name
            f.digest.hash = hashlib.sha256(b).hexdigest(); f.digest.size_bytes = len(b)
            f.is_executable = bool(st.st_mode & 0o100)
    b = m.SerializeToString()
    return r.Digest(hash=hashlib.sha256(b).hexdigest(), size_bytes=len(b))
if sys.argv[1] == 'tree':
    d = walk(sys.argv[2]); print(d.hash, d.size_bytes)
else:
    cls = getattr(r, sys.argv[1]); m = cls(); b = bytes.fromhex(sys.argv[2]); m.ParseFromString(b)
    print(m.SerializeToString().hex() == sys.argv[2], len(m.ListFields()))
`;
const py = (...args: string[]) =>
  execFileSync('/usr/bin/python3', ['-c', PY, ...args], { encoding: 'utf8' }).trim();

/** The golden tree of specs/store.md §3.5 and the example build directory of specs/reapi.md §5. */
async function fixtures() {
  const store = new Store(tempDir('eos-reapi-store-'));
  const golden = tempDir('eos-reapi-golden-');
  buildGolden(golden);
  const world = (await store.ingest(golden)).digest;
  const b = tempDir('eos-reapi-build-');
  mkdirSync(join(b, 'src'));
  mkdirSync(join(b, '.eos'));
  writeFileSync(join(b, 'src', 'hello.c'), 'int main(void) { return 0; }\n');
  writeFileSync(join(b, '.eos', 'recipe.sh'), 'cc -o "$OUTPUT/hello" "$SOURCE/hello.c"\n');
  const build = (await store.ingest(b)).digest;
  return { store, golden, world, build };
}

const ENV = {
  BUILD: '/build',
  HOME: '/build',
  LC_ALL: 'C',
  MAKEFLAGS: '-j4',
  OUTPUT: '/output',
  PATH: '/usr/bin:/usr/sbin',
  SOURCE: '/build/src',
  SOURCE_DATE_EPOCH: '1700000000',
  TZ: 'UTC',
};
/** Vector 3.1 of specs/action.md. */
const ACTION = 'blake3:e8d147b66e054af325e264e5087def26bd1d2b89d8d25f296d21e16f7216e17c' as ReturnType<
  typeof digestBytes
>;

describe('an Eos action in REAPI shape (specs/reapi.md §5)', () => {
  it('the golden tree as an input root: the same SHA-256 Directory digest as an independent encoder', async () => {
    const { store, golden, world } = await fixtures();
    expect(world).toBe('blake3:8f40b2a9c824d11326248ac2f63d4380e96ee38e307ee1ca3a5509b432fb37c1');
    const sha = await reapiTree(store, world, 'sha256');
    const b3 = await reapiTree(store, world, 'blake3');
    console.log(
      `reapi vectors: golden sha256 ${sha.root.hash}/${sha.root.size_bytes}, blake3 ${b3.root.hash}/${b3.root.size_bytes}`,
    );
    expect(py('tree', golden)).toBe(`${sha.root.hash} ${sha.root.size_bytes}`);
    expect(sha.root).toEqual(VECTORS.goldenSha256);
    expect(b3.root).toEqual(VECTORS.goldenBlake3);
    expect(sha.directories.size).toBe(3);
  });

  it('the Action and Command of the example (vectors), parsed by the independent decoder', async () => {
    const { store, world, build } = await fixtures();
    for (const fn of ['sha256', 'blake3'] as const) {
      const s = await reapiActionShape(store, { action: ACTION, world, build, env: ENV, timeoutS: 3600 }, fn);
      console.log(
        `reapi vectors (${fn}): input root ${s.inputRoot.root.hash}/${s.inputRoot.root.size_bytes}, command ${s.command.digest.hash}/${s.command.digest.size_bytes}, action ${s.action.digest.hash}/${s.action.digest.size_bytes}`,
      );
      expect({ root: s.inputRoot.root, command: s.command.digest, action: s.action.digest }).toEqual(
        VECTORS[fn],
      );
      // Old BuildStream's module lacks output_paths/salt/platform: it keeps them as unknown fields.
      expect(py('Command', Buffer.from(s.command.bytes).toString('hex'))).toMatch(/^True /);
      expect(py('Action', Buffer.from(s.action.bytes).toString('hex'))).toMatch(/^True /);
    }
  });
});

/** The vectors of specs/reapi.md §5. */
const VECTORS = {
  goldenSha256: { hash: 'a12ed8d1aba09998a671de93c8d6a722290e00c1de6bf47f0338fb884413ec99', size_bytes: 433 },
  goldenBlake3: { hash: 'b914893ce3a7ff54df8647e6b21f0a658130cfdda9fa098c4c2a8de9e6d544d2', size_bytes: 433 },
  sha256: {
    root: { hash: '7fdf9f3949e0a8f123e19c2e54681002e7bb5194fc66dffc28feb7d849cd35e0', size_bytes: 591 },
    command: { hash: '8ee3757ae3532063533ffc15d7e4eed119e6d7d5bc9f0e649444a93debcbdbae', size_bytes: 255 },
    action: { hash: 'eab3d0f234a8ae0ae4362feb9eedaae4297ce693d8f157e8a6e83d30a82f3364', size_bytes: 217 },
  },
  blake3: {
    root: { hash: '473a8872fba45456d93d80e11982a971cf9d924803e96e09ff03041f0e5f018d', size_bytes: 591 },
    command: { hash: '3c18053619ac660c19c00b908f36294c30e26c4bcc552d35b5d912771eae8234', size_bytes: 255 },
    action: { hash: 'a0dee0331ced9201738cb370f3bf2a496e6e59d717245e869616135cfc876c40', size_bytes: 217 },
  },
};
