/**
 * The REAPI binary cache: objects in a REAPI v2 ContentAddressableStorage (FindMissingBlobs,
 * BatchUpdateBlobs/BatchReadBlobs, ByteStream for large blobs), and action results filed by
 * reference through BuildStream's ReferenceStorage (`bst-artifact-server`): the reference
 * `eos/action/<64 hex>` names a REAPI Directory holding `entry.json` (the signed cache entry) and
 * `objects.json` (the BLAKE3 → CAS digest mapping of the output closure and log). The CAS digest
 * function is BLAKE3 (REAPI `DigestFunction.BLAKE3` = 9) when the server's capabilities offer
 * it, else SHA-256.
 *
 * @see specs/cache.md §2.2
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Grpc from '@grpc/grpc-js';
import {
  CacheTransportError,
  digestHex,
  encodeCanonical,
  parseCanonical,
  tlsCaCertificates,
  type Digest,
} from '../src/kernel/index.ts';
import type { CacheBackend, CacheHit, ObjectKind, PushCounts, PushObject } from './backend.ts';
import { reapiDigestOf } from './reapi-action.ts';
import { encodeMessage, reapiProtos, reapiType } from './reapi-protos.ts';
import { TRANSFERS_IN_FLIGHT, limiter, settleAll } from './limit.ts';

let grpcModule: typeof Grpc | undefined;
/** @grpc/grpc-js, loaded when a REAPI cache is first used (~35 ms that a build without one never pays). */
function grpc(): typeof Grpc {
  return (grpcModule ??= createRequire(import.meta.url)('@grpc/grpc-js') as typeof Grpc);
}

/** REAPI `DigestFunction.Value`s Eos uses. */
export const DIGEST_FUNCTION = { SHA256: 1, BLAKE3: 9 } as const;
/** Format tag of the mapping document `objects.json`. @see specs/cache.md §2.2 */
export const REAPI_OBJECTS_FORMAT = 'eos.reapi-objects';
/** Blobs up to this size go through the batch calls; larger ones through ByteStream. */
const BATCH_LIMIT = 512 * 1024;
/** Payload bytes per BatchUpdateBlobs call (servers commonly allow 1 MiB or 4 MiB in all). */
const BATCH_BYTES = 768 * 1024;
/** ByteStream write chunk. */
const CHUNK = 256 * 1024;
const DEADLINE_MS = 60_000;
/** Objects a substitution asks for at once: small reads are batched, so many can wait together. */
const READS_IN_FLIGHT = 128;

interface CasDigest {
  hash: string;
  size_bytes: number;
}

/** The mapping document `objects.json`: each object's BLAKE3 digest → [CAS hash, size, kind]. */
interface ObjectsDoc {
  format: typeof REAPI_OBJECTS_FORMAT;
  version: 1;
  digestFunction: 'sha256' | 'blake3';
  objects: Record<string, [string, number, ObjectKind]>;
}

/** What a REAPI server offers, from `GetCapabilities`. @see specs/cache.md §2.2.5 */
export interface ReapiCapabilities {
  /** `cache_capabilities.digest_functions`, REAPI `DigestFunction.Value`s (1 SHA-256, 9 BLAKE3). */
  digestFunctions: number[];
  /** The one Eos uses: BLAKE3 when offered, else SHA-256. */
  digestFunction: 'sha256' | 'blake3';
  /** `cache_capabilities.max_batch_total_size_bytes` (0: the server sets no limit). */
  maxBatchBytes: number;
  /** `action_cache_update_capabilities.update_enabled`: clients may write the ActionCache. */
  actionCacheUpdate: boolean;
  /** `execution_capabilities.exec_enabled`: the server executes actions. */
  execution: boolean;
}

/** The reference an action's result is filed under. @see specs/cache.md §2.2 */
export function reapiActionKey(action: Digest): string {
  return `eos/action/${digestHex(action)}`;
}

/**
 * A REAPI cache at `grpc://host:port[/instance]` (plaintext) or `grpcs://…` (TLS).
 * @see specs/cache.md §2.2
 */
export class ReapiCache implements CacheBackend {
  private readonly client: Grpc.Client;
  private readonly instance: string;
  private caps: Promise<ReapiCapabilities> | undefined;
  /** Small reads waiting for the next BatchReadBlobs call, and their bytes. */
  private reads: {
    fn: 'sha256' | 'blake3';
    d: CasDigest;
    resolve: (b: Uint8Array | undefined) => void;
    reject: (e: unknown) => void;
  }[] = [];
  private readBytes = 0;
  private readsScheduled = false;

  constructor(readonly url: string) {
    const m = /^(grpcs?):\/\/([^/]+)(?:\/(.*))?$/.exec(url);
    if (!m) throw new CacheTransportError(`cache ${url}: not a grpc:// URL`, { data: { url } });
    this.instance = m[3] ?? '';
    // grpcs trusts NODE_EXTRA_CA_CERTS's certificates too (specs/cli.md §1.9).
    const ca = tlsCaCertificates();
    const creds =
      m[1] === 'grpcs'
        ? grpc().credentials.createSsl(ca ? Buffer.from(ca.join('\n')) : undefined)
        : grpc().credentials.createInsecure();
    this.client = new (grpc().Client)(m[2]!, creds, {
      'grpc.max_receive_message_length': 8 * 1024 * 1024,
    });
  }

  close(): void {
    this.client.close();
  }

  private fail(what: string, e: Grpc.ServiceError | Error): CacheTransportError {
    const code = (e as Grpc.ServiceError).code;
    const name = code !== undefined ? grpc().status[code] : 'ERROR';
    return new CacheTransportError(
      `cache ${this.url}: ${what}: ${name}: ${(e as Grpc.ServiceError).details ?? e.message}`,
      {
        data: { url: this.url, grpc: name },
        cause: e,
      },
    );
  }

  private unary<T>(service: string, method: string, req: string, res: string, value: object): Promise<T> {
    const reqT = reapiProtos().lookupType(req);
    const resT = reapiProtos().lookupType(res);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        `/${service}/${method}`,
        (v: object) => Buffer.from(encodeMessage(reqT, v)),
        (b: Buffer) => resT.toObject(resT.decode(b), { longs: Number, defaults: true, bytes: Buffer }) as T,
        value,
        new (grpc().Metadata)(),
        { deadline: Date.now() + DEADLINE_MS },
        (err, out) => (err ? reject(err) : resolve(out as T)),
      );
    });
  }

  private cas<T>(method: string, value: object): Promise<T> {
    const p = 'build.bazel.remote.execution.v2.';
    return this.unary<T>(
      `${p}ContentAddressableStorage`,
      method,
      `${p}${method}Request`,
      `${p}${method}Response`,
      value,
    ).catch((e: Grpc.ServiceError) => {
      throw this.fail(method, e);
    });
  }

  /**
   * What the server says it offers (`Capabilities.GetCapabilities`, asked once per cache).
   * @throws CacheTransportError E58 when the server cannot be asked
   * @see specs/cache.md §2.2.5
   */
  capabilities(): Promise<ReapiCapabilities> {
    this.caps ??= this.unary<{
      cache_capabilities?: {
        digest_functions?: number[];
        max_batch_total_size_bytes?: number;
        action_cache_update_capabilities?: { update_enabled?: boolean } | null;
      } | null;
      execution_capabilities?: { exec_enabled?: boolean } | null;
    }>(
      'build.bazel.remote.execution.v2.Capabilities',
      'GetCapabilities',
      'build.bazel.remote.execution.v2.GetCapabilitiesRequest',
      'build.bazel.remote.execution.v2.ServerCapabilities',
      { instance_name: this.instance },
    ).then(
      (caps) => {
        const cc = caps.cache_capabilities ?? {};
        const fns = [...(cc.digest_functions ?? [])];
        return {
          digestFunctions: fns,
          digestFunction: fns.includes(DIGEST_FUNCTION.BLAKE3) ? 'blake3' : 'sha256',
          maxBatchBytes: cc.max_batch_total_size_bytes ?? 0,
          actionCacheUpdate: cc.action_cache_update_capabilities?.update_enabled === true,
          execution: caps.execution_capabilities?.exec_enabled === true,
        } satisfies ReapiCapabilities;
      },
      (e: Grpc.ServiceError) => {
        this.caps = undefined;
        throw this.fail('GetCapabilities', e);
      },
    );
    return this.caps;
  }

  /** The digest function: BLAKE3 when the server offers it, else SHA-256. @throws CacheTransportError E58 */
  async digestFunction(): Promise<'sha256' | 'blake3'> {
    return (await this.capabilities()).digestFunction;
  }

  /**
   * Whether the server answers `ActionCache.GetActionResult` at all: asked for an action digest
   * no action has (the digest of the empty blob); NOT_FOUND (or a result) means it serves an
   * ActionCache, UNIMPLEMENTED that it does not.
   * @throws CacheTransportError E58 for any other failure
   * @see specs/cache.md §2.2.5
   */
  async servesActionCache(): Promise<boolean> {
    const fn = await this.digestFunction();
    const p = 'build.bazel.remote.execution.v2.';
    try {
      await this.unary(
        p + 'ActionCache',
        'GetActionResult',
        `${p}GetActionResultRequest`,
        `${p}ActionResult`,
        {
          instance_name: this.instance,
          action_digest: this.casDigest(fn, new Uint8Array(0)),
          ...this.fnField(fn),
        },
      );
      return true;
    } catch (e) {
      const code = (e as Grpc.ServiceError).code;
      if (code === grpc().status.NOT_FOUND) return true;
      if (code === grpc().status.UNIMPLEMENTED) return false;
      throw this.fail('GetActionResult', e as Grpc.ServiceError);
    }
  }

  private casDigest(fn: 'sha256' | 'blake3', bytes: Uint8Array): CasDigest {
    return reapiDigestOf(fn, bytes);
  }

  private fnField(fn: 'sha256' | 'blake3'): object {
    return fn === 'blake3' ? { digest_function: DIGEST_FUNCTION.BLAKE3 } : {};
  }

  private resource(fn: 'sha256' | 'blake3', d: CasDigest, upload: boolean): string {
    const pre = this.instance ? `${this.instance}/` : '';
    const up = upload ? `uploads/${randomUUID()}/` : '';
    const f = fn === 'blake3' ? 'blake3/' : '';
    return `${pre}${up}blobs/${f}${d.hash}/${d.size_bytes}`;
  }

  /** Reads one blob, or undefined when the CAS lacks it. */
  /** Sends the queued small reads as one BatchReadBlobs call and answers each. */
  private flushReads(): void {
    this.readsScheduled = false;
    const q = this.reads;
    this.reads = [];
    this.readBytes = 0;
    if (!q.length) return;
    const fn = q[0]!.fn;
    const digests = [...new Map(q.map((x) => [`${x.d.hash}/${x.d.size_bytes}`, x.d])).values()];
    this.cas<{ responses: { digest?: CasDigest; data: Buffer; status?: { code: number } }[] }>(
      'BatchReadBlobs',
      {
        instance_name: this.instance,
        digests,
        ...this.fnField(fn),
      },
    ).then(
      (r) => {
        const by = new Map(r.responses.map((x) => [`${x.digest?.hash}/${x.digest?.size_bytes}`, x]));
        for (const x of q) {
          const one = by.get(`${x.d.hash}/${x.d.size_bytes}`);
          const code = one?.status?.code ?? 0;
          if (!one || code === grpc().status.NOT_FOUND) x.resolve(undefined);
          else if (code !== 0)
            x.reject(
              new CacheTransportError(`cache ${this.url}: BatchReadBlobs ${x.d.hash}: status ${code}`, {
                data: { url: this.url },
              }),
            );
          else x.resolve(new Uint8Array(one.data));
        }
      },
      (e: unknown) => {
        for (const x of q) x.reject(e);
      },
    );
  }

  /**
   * Reads one blob, or undefined when the CAS lacks it. Small blobs wait for the current turn of
   * the event loop and go together in one `BatchReadBlobs` call (at most BATCH_BYTES); large ones
   * through `ByteStream.Read`.
   */
  private async read(fn: 'sha256' | 'blake3', d: CasDigest): Promise<Uint8Array | undefined> {
    if (d.size_bytes <= BATCH_LIMIT)
      return new Promise((resolve, reject) => {
        if (this.reads.length && (this.reads[0]!.fn !== fn || this.readBytes + d.size_bytes > BATCH_BYTES))
          this.flushReads();
        this.reads.push({ fn, d, resolve, reject });
        this.readBytes += d.size_bytes;
        if (!this.readsScheduled) {
          this.readsScheduled = true;
          setImmediate(() => this.flushReads());
        }
      });
    const reqT = reapiProtos().lookupType('google.bytestream.ReadRequest');
    const resT = reapiProtos().lookupType('google.bytestream.ReadResponse');
    const chunks: Buffer[] = [];
    return new Promise((resolve, reject) => {
      const call = this.client.makeServerStreamRequest(
        '/google.bytestream.ByteStream/Read',
        (v: object) => Buffer.from(encodeMessage(reqT, v)),
        (b: Buffer) => resT.toObject(resT.decode(b), { bytes: Buffer }) as { data?: Buffer },
        { resource_name: this.resource(fn, d, false), read_offset: 0, read_limit: 0 },
        new (grpc().Metadata)(),
        { deadline: Date.now() + DEADLINE_MS },
      );
      call.on('data', (m: { data?: Buffer }) => m.data && chunks.push(m.data));
      call.on('error', (e: Grpc.ServiceError) =>
        e.code === grpc().status.NOT_FOUND ? resolve(undefined) : reject(this.fail('ByteStream.Read', e)),
      );
      call.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    });
  }

  /** Writes one large blob through ByteStream. */
  private write(fn: 'sha256' | 'blake3', d: CasDigest, bytes: Uint8Array): Promise<void> {
    const reqT = reapiProtos().lookupType('google.bytestream.WriteRequest');
    const resT = reapiProtos().lookupType('google.bytestream.WriteResponse');
    return new Promise((resolve, reject) => {
      const call = this.client.makeClientStreamRequest(
        '/google.bytestream.ByteStream/Write',
        (v: object) => Buffer.from(encodeMessage(reqT, v)),
        (b: Buffer) => resT.toObject(resT.decode(b), { longs: Number }),
        new (grpc().Metadata)(),
        { deadline: Date.now() + DEADLINE_MS },
        (err) => (err ? reject(this.fail('ByteStream.Write', err)) : resolve()),
      );
      const name = this.resource(fn, d, true);
      for (let off = 0; off < bytes.length || off === 0; off += CHUNK) {
        const end = Math.min(off + CHUNK, bytes.length);
        call.write({
          resource_name: off === 0 ? name : '',
          write_offset: off,
          finish_write: end === bytes.length,
          data: Buffer.from(bytes.subarray(off, end)),
        });
        if (end === bytes.length) break;
      }
      call.end();
    });
  }

  /**
   * Uploads the blobs the CAS lacks: `FindMissingBlobs` in calls of 1,000 digests, then the
   * missing ones, {@link TRANSFERS_IN_FLIGHT} calls at once: small blobs packed into
   * `BatchUpdateBlobs` calls of at most BATCH_BYTES (and ¾ of the server's limit), large ones each through `ByteStream.Write`.
   * The same bytes twice in one push go once.
   * @returns the indexes of `blobs` that were sent
   * @throws CacheTransportError E58
   */
  private async upload(
    fn: 'sha256' | 'blake3',
    blobs: readonly { d: CasDigest; bytes: () => Promise<Uint8Array> }[],
  ): Promise<Set<number>> {
    const limit = limiter(TRANSFERS_IN_FLIGHT);
    const missing = new Set<string>();
    const queries: Promise<void>[] = [];
    for (let i = 0; i < blobs.length; i += 1000) {
      const slice = blobs.slice(i, i + 1000);
      queries.push(
        limit.run(async () => {
          const r = await this.cas<{ missing_blob_digests: CasDigest[] }>('FindMissingBlobs', {
            instance_name: this.instance,
            blob_digests: slice.map((b) => b.d),
            ...this.fnField(fn),
          });
          for (const m of r.missing_blob_digests) missing.add(`${m.hash}/${m.size_bytes}`);
        }),
      );
    }
    await settleAll(queries);
    // Batches within the server's limit (with room for the request's own fields).
    const cap = (await this.capabilities()).maxBatchBytes;
    const perCall = cap > 0 ? Math.min(BATCH_BYTES, Math.floor((cap * 3) / 4)) : BATCH_BYTES;
    const perBlob = Math.min(BATCH_LIMIT, perCall);
    const sent = new Set<number>();
    const large: number[] = [];
    const batches: number[][] = [];
    let batch: number[] = [];
    let batchBytes = 0;
    for (const [i, b] of blobs.entries()) {
      const key = `${b.d.hash}/${b.d.size_bytes}`;
      if (!missing.has(key)) continue;
      missing.delete(key);
      sent.add(i);
      if (b.d.size_bytes > perBlob) {
        large.push(i);
        continue;
      }
      if (batch.length && batchBytes + b.d.size_bytes > perCall) {
        batches.push(batch);
        batch = [];
        batchBytes = 0;
      }
      batch.push(i);
      batchBytes += b.d.size_bytes;
    }
    if (batch.length) batches.push(batch);
    const updateBatch = async (idx: number[]) => {
      const requests = await Promise.all(
        idx.map(async (i) => ({ digest: blobs[i]!.d, data: Buffer.from(await blobs[i]!.bytes()) })),
      );
      const r = await this.cas<{ responses: { status?: { code: number; message?: string } }[] }>(
        'BatchUpdateBlobs',
        { instance_name: this.instance, requests, ...this.fnField(fn) },
      );
      const bad = r.responses.find((x) => (x.status?.code ?? 0) !== 0);
      if (bad)
        throw new CacheTransportError(
          `cache ${this.url}: BatchUpdateBlobs: status ${bad.status!.code} ${bad.status!.message ?? ''}`,
          { data: { url: this.url } },
        );
    };
    await settleAll([
      ...large.map((i) => limit.run(async () => this.write(fn, blobs[i]!.d, await blobs[i]!.bytes()))),
      ...batches.map((b) => limit.run(() => updateBatch(b))),
    ]);
    return sent;
  }

  private async reference(key: string): Promise<CasDigest | undefined> {
    try {
      const r = await this.unary<{ digest?: CasDigest }>(
        'buildstream.v2.ReferenceStorage',
        'GetReference',
        'buildstream.v2.GetReferenceRequest',
        'buildstream.v2.GetReferenceResponse',
        { instance_name: this.instance, key },
      );
      return r.digest?.hash ? r.digest : undefined;
    } catch (e) {
      const code = (e as Grpc.ServiceError).code;
      if (code === grpc().status.NOT_FOUND) return undefined;
      if (code === grpc().status.UNIMPLEMENTED)
        throw new CacheTransportError(
          `cache ${this.url}: the server offers no ReferenceStorage (BuildStream's, which Eos files ` +
            'entries under); a server with only an ActionCache (Buildbarn, NativeLink) is not supported ' +
            'yet (specs/reapi.md §6.2)',
          { data: { url: this.url, grpc: 'UNIMPLEMENTED' }, cause: e },
        );
      throw this.fail('GetReference', e as Grpc.ServiceError);
    }
  }

  async lookup(action: Digest): Promise<CacheHit | undefined> {
    const fn = await this.digestFunction();
    const ref = await this.reference(reapiActionKey(action));
    if (!ref) return undefined;
    const dirT = reapiType('Directory');
    const dirBytes = await this.read(fn, ref);
    if (!dirBytes) return undefined;
    const dir = dirT.toObject(dirT.decode(dirBytes), { longs: Number }) as {
      files?: { name: string; digest: CasDigest }[];
    };
    const file = async (name: string) => {
      const f = dir.files?.find((x) => x.name === name);
      return f ? this.read(fn, f.digest) : undefined;
    };
    const entry = await file('entry.json');
    const objectsBytes = await file('objects.json');
    if (!entry || !objectsBytes) return undefined;
    // The mapping is not signed: a wrong one only leads to bytes that fail their BLAKE3 check.
    let doc: ObjectsDoc;
    try {
      doc = parseCanonical(
        objectsBytes,
        `cache ${this.url}: objects.json of ${action}`,
      ) as unknown as ObjectsDoc;
    } catch {
      return { entry, object: async () => undefined };
    }
    return {
      entry,
      inFlight: READS_IN_FLIGHT,
      object: async (kind, d) => {
        const m = doc.objects?.[d];
        if (!m || m[2] !== kind) return undefined;
        return this.read(fn, { hash: m[0], size_bytes: m[1] });
      },
    };
  }

  async push(action: Digest, entry: Uint8Array, objects: readonly PushObject[]): Promise<PushCounts> {
    const fn = await this.digestFunction();
    const doc: ObjectsDoc = { format: REAPI_OBJECTS_FORMAT, version: 1, digestFunction: fn, objects: {} };
    // The CAS digest of every object (SHA-256: each object read and hashed, several at once).
    const limit = limiter(TRANSFERS_IN_FLIGHT);
    const digests = await settleAll(
      objects.map((o) =>
        fn === 'blake3'
          ? Promise.resolve({ hash: digestHex(o.digest), size_bytes: o.size })
          : limit.run(async () => this.casDigest(fn, await o.bytes())),
      ),
    );
    const blobs = objects.map((o, i) => {
      const d = digests[i]!;
      doc.objects[o.digest] = [d.hash, d.size_bytes, o.kind];
      return { d, bytes: o.bytes };
    });
    const sent = await this.upload(fn, blobs);
    const counts: PushCounts = {
      sent: sent.size,
      sentBytes: 0,
      present: objects.length - sent.size,
      entrySent: false,
    };
    for (const i of sent) counts.sentBytes += blobs[i]!.d.size_bytes;
    const docBytes = encodeCanonical(doc);
    const entryD = this.casDigest(fn, entry);
    const docD = this.casDigest(fn, docBytes);
    const dirBytes = encodeMessage(reapiType('Directory'), {
      files: [
        { name: 'entry.json', digest: entryD, is_executable: false },
        { name: 'objects.json', digest: docD, is_executable: false },
      ],
    });
    const dirD = this.casDigest(fn, dirBytes);
    const key = reapiActionKey(action);
    const old = await this.reference(key);
    if (old && old.hash === dirD.hash) return counts;
    // The reference last, once every object it leads to is in the CAS: a reader never finds a
    // reference naming a missing object, even when the push is killed midway.
    await this.upload(fn, [
      { d: entryD, bytes: async () => entry },
      { d: docD, bytes: async () => docBytes },
      { d: dirD, bytes: async () => dirBytes },
    ]);
    await this.unary(
      'buildstream.v2.ReferenceStorage',
      'UpdateReference',
      'buildstream.v2.UpdateReferenceRequest',
      'buildstream.v2.UpdateReferenceResponse',
      { instance_name: this.instance, keys: [key], digest: dirD },
    ).catch((e: Grpc.ServiceError) => {
      throw this.fail('UpdateReference', e);
    });
    counts.entrySent = true;
    return counts;
  }
}
