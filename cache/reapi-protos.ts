/**
 * The REAPI v2, ByteStream and BuildStream ReferenceStorage message types, loaded once with
 * protobufjs from the vendored `.proto` files beside this module (`cache/protos/`, see its README).
 *
 * @see specs/reapi.md §1, specs/cache.md §2.2
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';

const PROTO_DIR = join(import.meta.dirname, 'protos');
/** Well-known types protobufjs carries itself. */
const BUILT_IN = new Set(
  ['any', 'duration', 'timestamp', 'wrappers', 'empty', 'struct', 'field_mask'].map(
    (n) => `google/protobuf/${n}.proto`,
  ),
);

let loaded: protobuf.Root | undefined;

/**
 * The loaded protobuf root (keepCase: field names as in the .proto files, e.g. `size_bytes`).
 * @see specs/reapi.md §1
 */
export function reapiProtos(): protobuf.Root {
  if (loaded) return loaded;
  const pbDir = dirname(createRequire(import.meta.url).resolve('protobufjs/package.json'));
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) =>
    BUILT_IN.has(target)
      ? target
      : target.startsWith('google/protobuf/')
        ? join(pbDir, target)
        : join(PROTO_DIR, target);
  root.loadSync(
    [
      'build/bazel/remote/execution/v2/remote_execution.proto',
      'google/bytestream/bytestream.proto',
      'buildstream/v2/buildstream.proto',
    ],
    { keepCase: true },
  );
  root.resolveAll();
  loaded = root;
  return root;
}

/** A message type of the REAPI package `build.bazel.remote.execution.v2`, by its short name. */
export function reapiType(name: string): protobuf.Type {
  return reapiProtos().lookupType(name.includes('.') ? name : `build.bazel.remote.execution.v2.${name}`);
}

/** Encodes a plain object as the message `type` (deterministic: fields in number order). */
export function encodeMessage(type: protobuf.Type, value: object): Uint8Array {
  return type.encode(type.fromObject(value)).finish();
}
