/**
 * The REAPI v2, ByteStream and BuildStream ReferenceStorage message types, loaded once with
 * protobufjs from the vendored `.proto` files beside this module (`cache/protos/`, see its README).
 *
 * @see specs/reapi.md §1, specs/cache.md §2.2
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type Protobuf from 'protobufjs';

const PROTO_DIR = join(import.meta.dirname, 'protos');
/** Well-known types protobufjs carries itself. */
const BUILT_IN = new Set(
  ['any', 'duration', 'timestamp', 'wrappers', 'empty', 'struct', 'field_mask'].map(
    (n) => `google/protobuf/${n}.proto`,
  ),
);

let loaded: Protobuf.Root | undefined;

/**
 * The loaded protobuf root (keepCase: field names as in the .proto files, e.g. `size_bytes`).
 * @see specs/reapi.md §1
 */
export function reapiProtos(): Protobuf.Root {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  // Loaded here, not at import: protobufjs is some 45 modules a build without a REAPI cache never uses.
  const protobuf = require('protobufjs') as typeof Protobuf;
  const pbDir = dirname(require.resolve('protobufjs/package.json'));
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
export function reapiType(name: string): Protobuf.Type {
  return reapiProtos().lookupType(name.includes('.') ? name : `build.bazel.remote.execution.v2.${name}`);
}

/** Encodes a plain object as the message `type` (deterministic: fields in number order). */
export function encodeMessage(type: Protobuf.Type, value: object): Uint8Array {
  return type.encode(type.fromObject(value)).finish();
}
