/**
 * An Eos action in REAPI's shape: the input root `Directory` tree (the world at `/`, the build
 * directory at `/build`, an empty `/output`), the `Command` that runs the recipe as the sandbox
 * does, and the `Action` that names both, salted with the Eos action id. Encoded with the upstream
 * REAPI v2 protos (protobufjs; fields in number order, repeated nodes sorted by name), so that the
 * same action can be sent to a remote REAPI cluster whose workers chroot into the input root
 * (Buildbarn's `chroot_into_input_root`).
 *
 * @see specs/reapi.md
 */
import { createHash } from 'node:crypto';
import {
  digestBytes,
  digestHex,
  digestRaw,
  type Digest,
  type Store,
  type TreeEntry,
} from '../src/kernel/index.ts';
import { encodeMessage, reapiType } from './reapi-protos.ts';

/** A REAPI digest: lowercase hex hash and size in bytes. */
export interface ReapiDigest {
  hash: string;
  size_bytes: number;
}

/** The digest functions of the mapping. */
export type ReapiDigestFunction = 'sha256' | 'blake3';

/** An encoded message and its digest. */
export interface ReapiMessage {
  bytes: Uint8Array;
  digest: ReapiDigest;
}

/** The digest of `bytes` under `fn`. */
export function reapiDigestOf(fn: ReapiDigestFunction, bytes: Uint8Array): ReapiDigest {
  const hash =
    fn === 'sha256' ? createHash('sha256').update(bytes).digest('hex') : digestHex(digestBytes(bytes));
  return { hash, size_bytes: bytes.length };
}

function message(type: string, fn: ReapiDigestFunction, value: object): ReapiMessage {
  const bytes = encodeMessage(reapiType(type), value);
  return { bytes, digest: reapiDigestOf(fn, bytes) };
}

/** The REAPI Directory tree of an Eos tree: its root, and every Directory message by hash. */
export interface ReapiTree {
  root: ReapiDigest;
  /** Encoded Directory messages, by hash (the root among them). */
  directories: Map<string, Uint8Array>;
}

/** A `Directory` of nodes (each list sorted by name, as REAPI requires). */
function directoryOf(
  fn: ReapiDigestFunction,
  files: { name: string; digest: ReapiDigest; is_executable: boolean }[],
  directories: { name: string; digest: ReapiDigest }[],
  symlinks: { name: string; target: string }[],
  out: Map<string, Uint8Array>,
): ReapiDigest {
  const byName = <T extends { name: string }>(a: T, b: T) =>
    Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));
  const m = message('Directory', fn, {
    files: files.sort(byName),
    directories: directories.sort(byName),
    symlinks: symlinks.sort(byName),
  });
  out.set(m.digest.hash, m.bytes);
  return m.digest;
}

/**
 * Converts the entries of an Eos tree (and below) to REAPI Directories. With SHA-256 every blob is
 * read and hashed; with BLAKE3 the Eos digests are the REAPI hashes.
 * @throws NotFoundError E4 when a tree or blob is not stored
 */
async function convert(
  store: Store,
  entries: readonly TreeEntry[],
  fn: ReapiDigestFunction,
  out: Map<string, Uint8Array>,
  extra: { name: string; digest: ReapiDigest }[] = [],
): Promise<ReapiDigest> {
  const files: { name: string; digest: ReapiDigest; is_executable: boolean }[] = [];
  const dirs: { name: string; digest: ReapiDigest }[] = [...extra];
  const links: { name: string; target: string }[] = [];
  for (const e of entries) {
    if (e.kind === 'file') {
      const digest =
        fn === 'blake3'
          ? { hash: digestHex(e.digest), size_bytes: e.size }
          : reapiDigestOf(fn, await store.blobs.get(e.digest));
      files.push({ name: e.name, digest, is_executable: e.executable });
    } else if (e.kind === 'directory')
      dirs.push({
        name: e.name,
        digest: await convert(store, (await store.trees.get(e.digest)).entries, fn, out),
      });
    else links.push({ name: e.name, target: e.target });
  }
  return directoryOf(fn, files, dirs, links, out);
}

/**
 * The REAPI Directory tree of a stored Eos tree.
 * @throws NotFoundError E4
 * @see specs/reapi.md §2
 */
export async function reapiTree(store: Store, tree: Digest, fn: ReapiDigestFunction): Promise<ReapiTree> {
  const directories = new Map<string, Uint8Array>();
  const root = await convert(store, (await store.trees.get(tree)).entries, fn, directories);
  return { root, directories };
}

/** What an Eos action runs with, as the sandbox sets it up (executor/sandbox.ts). */
export interface EosActionShape {
  /** The Eos action id (salts the Action: two Eos actions never share a REAPI action). */
  action: Digest;
  /** The world's merged tree, mounted at `/`. */
  world: Digest;
  /** The build directory's tree (`src/`, `.eos/recipe.sh`, `sources/…`), mounted at `/build`. */
  build: Digest;
  /** The recipe's environment (the sandbox's `sandboxEnv` plus the recipe's variables). */
  env: Record<string, string>;
  /** Time limit, seconds. */
  timeoutS: number;
}

/** The platform properties an Eos action asks a worker for. @see specs/reapi.md §3 */
export const REAPI_PLATFORM = [
  { name: 'ISA', value: 'x86-64' },
  { name: 'OSFamily', value: 'linux' },
];

/** The argv of the Command: the sandbox's `--chdir /build` and recipe. @see specs/reapi.md §3 */
export const REAPI_ARGUMENTS = ['/bin/sh', '-c', 'cd /build && exec /bin/sh /build/.eos/recipe.sh'];

/** The REAPI messages of an Eos action. */
export interface ReapiActionShape {
  inputRoot: ReapiTree;
  command: ReapiMessage;
  action: ReapiMessage;
}

/**
 * The `Command` of an Eos action: the recipe under `/bin/sh`, the environment sorted by name, the
 * output directory `output` (both `output_paths` and the deprecated `output_directories`, for
 * v2.0 servers), the working directory the input root.
 * @see specs/reapi.md §3
 */
export function reapiCommand(env: Record<string, string>, fn: ReapiDigestFunction): ReapiMessage {
  const names = Object.keys(env).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return message('Command', fn, {
    arguments: REAPI_ARGUMENTS,
    environment_variables: names.map((name) => ({ name, value: env[name]! })),
    output_directories: ['output'],
    output_paths: ['output'],
    working_directory: '',
  });
}

/**
 * The REAPI shape of an Eos action: input root = the world with `build` and an empty `output`
 * added at its top (an Eos world has neither), the Command, and the Action.
 * @throws NotFoundError E4 when a tree or blob is not stored
 * @see specs/reapi.md §2–§4
 */
export async function reapiActionShape(
  store: Store,
  a: EosActionShape,
  fn: ReapiDigestFunction,
): Promise<ReapiActionShape> {
  const directories = new Map<string, Uint8Array>();
  const build = await convert(store, (await store.trees.get(a.build)).entries, fn, directories);
  const output = directoryOf(fn, [], [], [], directories);
  const world = (await store.trees.get(a.world)).entries.filter(
    (e) => e.name !== 'build' && e.name !== 'output',
  );
  const root = await convert(store, world, fn, directories, [
    { name: 'build', digest: build },
    { name: 'output', digest: output },
  ]);
  const command = reapiCommand(a.env, fn);
  const action = message('Action', fn, {
    command_digest: command.digest,
    input_root_digest: root,
    timeout: { seconds: a.timeoutS, nanos: 0 },
    do_not_cache: false,
    salt: Buffer.from(digestRaw(a.action)),
    platform: { properties: REAPI_PLATFORM },
  });
  return { inputRoot: { root, directories }, command, action };
}
