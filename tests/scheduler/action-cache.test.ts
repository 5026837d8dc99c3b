import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Store,
  digestBytes,
  digestHex,
  emptyTrustPolicy,
  encodeCanonical,
  keyPairFromSeed,
  makeKeyring,
  verifySignature,
  type Digest,
} from '../../src/kernel/index.ts';
import {
  MemoryActionCache,
  actionEntryPath,
  openActionCache,
  storeRebuilder,
  buildRecordDigest,
  constructiveRebuilder,
  encodeCacheEntry,
  keySigner,
  makeBuildRecord,
  parseCacheEntry,
  type ActionCache,
  type CacheEntry,
  type RecordSignature,
  type BuildDetails,
  encodeBuildRecord,
  parseBuildRecord,
} from '../../scheduler/index.ts';

const D = digestBytes;
const ACTION = 'blake3:e8d147b66e054af325e264e5087def26bd1d2b89d8d25f296d21e16f7216e17c' as Digest;
const z = (c: string): Digest => `blake3:${c.repeat(64)}` as Digest;
/** The executor's part of the §4.4 vector. */
const details: BuildDetails = {
  label: 'zlib',
  atomVersion: '1.2.13',
  recipe: { name: 'std.autotools', identity: z('6'), args: { 'configure-flags': ['--static'] } },
  seed: { mode: 'debian', root: z('7') },
  shadowed: [{ path: '/usr/lib/x86_64-linux-gnu/libz.so.1', winner: 'dep.zlib', shadowed: ['seed.zlib1g'] }],
  sources: [z('9')],
  dependencies: [],
  sourceDateEpoch: 1700000000,
  warnings: [],
};
const fields = {
  action: ACTION,
  output: D('out'),
  world: D('world'),
  log: D('log'),
  durationMs: 1234,
  seedMode: 'seeded',
};

let dir: string | undefined;
let store: Store;
/** A fresh filesystem store holding the build's output and log (stored before a record names them). */
async function freshStore(): Promise<Store> {
  dir = await mkdtemp(join(tmpdir(), 'eos-action-cache-'));
  store = new Store(dir);
  expect(await store.blobs.put(new TextEncoder().encode('out'))).toBe(fields.output);
  expect(await store.blobs.put(new TextEncoder().encode('log'))).toBe(fields.log);
  return store;
}
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A real ed25519 builder key (fixed seed, so the test is deterministic). */
const builderSeed = new Uint8Array(32).fill(7);
const builder = keyPairFromSeed(builderSeed);
const signer = keySigner(builderSeed);
const keyring = makeKeyring(
  [{ name: 'builder', id: builder.id, publicKey: builder.publicKey, hasSecret: true }],
  'test',
);
function trusting(...ids: Digest[]) {
  const policy = emptyTrustPolicy();
  policy.purposes.builds.push(...ids);
  return { keyring, policy };
}

describe('build records (specs/action.md §4, §5)', () => {
  it('§4.3 vector: the record digest', () => {
    expect(new TextDecoder().decode(encodeCanonical(makeBuildRecord(fields)))).toBe(
      '{"action":"blake3:e8d147b66e054af325e264e5087def26bd1d2b89d8d25f296d21e16f7216e17c","details":null,' +
        '"durationMs":1234,"format":"eos.build-record",' +
        '"log":"blake3:9fbf48f8224338b32a7f298140ee6c52b29a22d05b35c9be97e19b614e4726ba",' +
        '"output":"blake3:5443af0c0e97f60b57f1450f3051247bce8f92565feb6cd650c9369b79f0b43b",' +
        '"seedMode":"seeded","version":2,' +
        '"world":"blake3:d7894ae9716d38d2dfad0ec55424ca321ee12453d51f1b3adeb77d0475ed988c"}',
    );
    expect(buildRecordDigest(makeBuildRecord(fields))).toBe(
      'blake3:01cc0f6b5ddb07559704c2a3f155de1349c751aeca570b3ab553209a78ccf026',
    );
    expect(buildRecordDigest(makeBuildRecord({ ...fields, details }))).toBe(
      'blake3:1f55da669032634e789a0ddf3e0cdc14769e50aa4a8cb64a87be719893b06146',
    );
  });

  it("§4.4 vector: a record with the executor's details, outside the scheduler (action null)", () => {
    const rec = makeBuildRecord({
      action: null,
      output: z('a'),
      world: z('8'),
      log: z('b'),
      durationMs: 2600,
      seedMode: 'debian',
      details,
    });
    expect(buildRecordDigest(rec)).toBe(
      'blake3:d5a5682cc3ac9cb4c1bfa33a508f3fe705622f009359b6f0d2fd62b242adbf83',
    );
    expect(parseBuildRecord(encodeBuildRecord(rec), 'r')).toEqual(rec);
    const enc = (v: unknown) => encodeCanonical(v);
    expect(() => parseBuildRecord(enc({ ...rec, version: 1 }), 'r')).toThrow('[E3] r: version: 1 ');
    expect(() => parseBuildRecord(enc({ ...rec, details: { ...details, extra: 1 } }), 'r')).toThrow(
      '[E3] r: details has unknown field extra',
    );
    expect(() => parseBuildRecord(enc({ ...rec, output: 'x' }), 'r')).toThrow(
      '[E2] r: output: "x" is not a digest',
    );
    expect(() => parseBuildRecord(enc({ ...rec, details: { ...details, sources: ['x'] } }), 'r')).toThrow(
      '[E2] r: details.sources.0: "x" is not a digest',
    );
    const { label: _label, ...noLabel } = details;
    expect(() => parseBuildRecord(enc({ ...rec, details: noLabel }), 'r')).toThrow(
      '[E3] r: details.label: missing',
    );
  });

  it('round-trips an entry and rejects malformed or misfiled ones', () => {
    const record = makeBuildRecord(fields);
    const entry = {
      format: 'eos.action-cache-entry' as const,
      version: 1 as const,
      record,
      signatures: [signer.sign(buildRecordDigest(record)) as RecordSignature],
    };
    const bytes = encodeCacheEntry(entry);
    expect(parseCacheEntry(bytes, 'e', ACTION)).toEqual(entry);
    expect(() => parseCacheEntry(bytes, 'e', D('other'))).toThrow(
      /^\[E5\] e: filed under blake3:.* but records/,
    );
    const enc = (v: unknown) => encodeCanonical(v);
    expect(() => parseCacheEntry(new TextEncoder().encode(JSON.stringify(entry, null, 1)), 'e')).toThrow(
      '[E3] e: JSON is not in canonical (RFC 8785) form',
    );
    expect(() => parseCacheEntry(enc({ ...entry, version: 2 }), 'e')).toThrow(
      '[E3] e: not an eos.action-cache-entry',
    );
    expect(() => parseCacheEntry(enc({ ...entry, record: { ...record, extra: 1 } }), 'e')).toThrow(
      '[E3] e: record has unknown field extra',
    );
    expect(() => parseCacheEntry(enc({ ...entry, record: { ...record, durationMs: -1 } }), 'e')).toThrow(
      '[E3]',
    );
    expect(() => parseCacheEntry(enc({ ...entry, signatures: [{ signed: record }] }), 'e')).toThrow(
      /^\[E3\] e: signatures\[0\]: /,
    );
    expect(() =>
      parseCacheEntry(enc({ ...entry, signatures: [{ ...entry.signatures[0], signed: D('x') }] }), 'e'),
    ).toThrow(/^\[E5\] e: signatures\[0\] signs another digest/);
  });
});

function conformance(name: string, make: () => Promise<ActionCache>) {
  describe(`${name} action cache`, () => {
    it('with a trust policy, only records signed by a trusted builder count', async () => {
      const cache = await make();
      await constructiveRebuilder(cache).record(fields); // unsigned
      expect(await constructiveRebuilder(cache).check(ACTION)).toBeDefined();
      expect(
        await constructiveRebuilder(cache, { trust: trusting(builder.id) }).check(ACTION),
      ).toBeUndefined();
      await constructiveRebuilder(cache, { signer }).record(fields); // signed
      expect(await constructiveRebuilder(cache, { trust: trusting(builder.id) }).check(ACTION)).toBeDefined();
      expect(
        await constructiveRebuilder(cache, { trust: trusting(D('someone else')) }).check(ACTION),
      ).toBeUndefined();
    });

    it('an entry the accept predicate rejects is stale (eos build --observe: no read set)', async () => {
      const cache = await make();
      await constructiveRebuilder(cache).record(fields);
      const observedOnly = (e: CacheEntry) => Boolean(e.record.details?.readSet);
      expect(await constructiveRebuilder(cache, { accept: observedOnly }).check(ACTION)).toBeUndefined();
      expect(await constructiveRebuilder(cache, { accept: () => true }).check(ACTION)).toBeDefined();
    });

    it('misses, then returns what was put; a later put replaces', async () => {
      const cache = await make();
      expect(await cache.get(ACTION)).toBeUndefined();
      const rb = constructiveRebuilder(cache, { signer });
      expect(await rb.check(ACTION)).toBeUndefined();
      const entry = await rb.record(fields);
      expect(entry.signatures).toHaveLength(1);
      expect(entry.signatures[0]!.signed).toBe(buildRecordDigest(entry.record));
      // A real ed25519 signature by the builder key, for the purpose `builds`.
      const ok = verifySignature(
        entry.signatures[0],
        buildRecordDigest(entry.record),
        'builds',
        keyring,
        trusting(builder.id).policy,
      );
      expect(ok.key).toBe(builder.id);
      expect(await cache.get(ACTION)).toEqual(entry);
      expect(await rb.check(ACTION)).toEqual(entry);
      const again = await constructiveRebuilder(cache).record({ ...fields, durationMs: 99 });
      expect((await cache.get(ACTION))!.record.durationMs).toBe(99);
      expect(again.signatures).toEqual([]);
    });

    it('a record whose output left the store is stale', async () => {
      const cache = await make();
      await constructiveRebuilder(cache).record(fields);
      const present = new Set<Digest>();
      const rb = constructiveRebuilder(cache, { outputExists: async (d) => present.has(d) });
      expect(await rb.check(ACTION)).toBeUndefined();
      present.add(fields.output);
      expect((await rb.check(ACTION))!.record.output).toBe(fields.output);
    });
  });
}
conformance('memory', async () => new MemoryActionCache());
conformance('filesystem', async () => openActionCache(await freshStore()));

describe('filesystem action cache layout (specs/action.md §6)', () => {
  it('files entries at actions/<2>/<62>, pins output and log as roots, leaves no temp files', async () => {
    const cache = openActionCache(await freshStore());
    await constructiveRebuilder(cache).record(fields);
    const hex = digestHex(ACTION);
    const path = join(dir!, 'actions', hex.slice(0, 2), hex.slice(2));
    expect(actionEntryPath(dir!, ACTION)).toBe(path);
    const bytes = await readFile(path);
    expect(parseCacheEntry(bytes, path, ACTION).record).toEqual(makeBuildRecord(fields));
    expect(await readFile(join(dir!, 'roots', `action-${hex}.output`), 'utf8')).toBe(`${fields.output}\n`);
    expect(await readFile(join(dir!, 'roots', `action-${hex}.log`), 'utf8')).toBe(`${fields.log}\n`);
    expect(await readdir(join(dir!, 'actions', hex.slice(0, 2)))).toEqual([hex.slice(2)]);
    expect((await readdir(join(dir!, 'roots'))).sort()).toEqual([
      `action-${hex}.log`,
      `action-${hex}.output`,
    ]);
    expect(await store.listRoots()).toEqual([
      { name: `action-${hex}.log`, digest: fields.log },
      { name: `action-${hex}.output`, digest: fields.output },
    ]);
  });

  it('an entry of an older record version (1) is stale, not an error: the action is rebuilt and the entry replaced', async () => {
    const rb = storeRebuilder(await freshStore());
    const old = { ...makeBuildRecord(fields), version: 1, details: null };
    const path = actionEntryPath(dir!, ACTION);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(
      path,
      encodeCanonical({ format: 'eos.action-cache-entry', version: 1, record: old, signatures: [] }),
    );
    expect(await rb.check(ACTION)).toBeUndefined();
    await rb.record(fields);
    expect((await rb.check(ACTION))!.record.version).toBe(2);
  });

  it("pins build outputs and logs against gc, keeps the executor's details in the entry; an output missing from the store cannot be recorded", async () => {
    const rb = storeRebuilder(await freshStore());
    await rb.record({ ...fields, details });
    expect((await store.listRoots()).map((r) => r.name).sort()).toEqual([
      `action-${digestHex(ACTION)}.log`,
      `action-${digestHex(ACTION)}.output`,
    ]);
    const stray = await store.blobs.put(new TextEncoder().encode('unpinned'));
    await store.gc({ graceSeconds: 0 });
    expect(await store.blobs.has(stray)).toBe(false);
    expect(await store.blobs.has(fields.output)).toBe(true);
    expect(await store.blobs.has(fields.log)).toBe(true);
    expect((await rb.check(ACTION))!.record.details).toEqual(details);
    const ghost = D('never stored');
    await expect(rb.record({ ...fields, action: D('a2'), output: ghost })).rejects.toThrow(
      `[E4] root action-${digestHex(D('a2'))}.output: ${ghost} is not in the store`,
    );
    expect(await rb.check(D('a2'))).toBeUndefined();
  });

  it('reports a corrupt or misfiled entry with its path', async () => {
    const cache = openActionCache(await freshStore());
    const path = actionEntryPath(dir!, ACTION);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, '{"not":"canonical" }');
    await expect(cache.get(ACTION)).rejects.toThrow(`[E3] ${path}: JSON is not in canonical (RFC 8785) form`);
    const other = D('other action');
    await constructiveRebuilder(cache).record({ ...fields, action: other });
    await writeFile(path, await readFile(actionEntryPath(dir!, other)));
    await expect(cache.get(ACTION)).rejects.toThrow(
      `[E5] ${path}: filed under ${ACTION} but records ${other}`,
    );
  });

  it('reads an entry of the superseded build-record version 1 as a miss, which the rebuild replaces; a newer version is E3 (§5.3)', async () => {
    const cache = openActionCache(await freshStore());
    const path = actionEntryPath(dir!, ACTION);
    await mkdir(join(path, '..'), { recursive: true });
    // The shape an older Eos wrote: details as the digest of a separate record.
    const v1 = {
      format: 'eos.action-cache-entry',
      version: 1,
      record: { ...fields, details: D('details'), format: 'eos.build-record', version: 1 },
      signatures: [],
    };
    await writeFile(path, encodeCanonical(v1));
    expect(await cache.get(ACTION)).toBeUndefined();
    expect(await new MemoryActionCache().get(ACTION)).toBeUndefined();
    await constructiveRebuilder(cache).record(fields);
    expect((await cache.get(ACTION))!.record).toEqual(makeBuildRecord(fields));
    const v3 = { ...v1, record: { ...v1.record, details: null, version: 3 } };
    await writeFile(path, encodeCanonical(v3));
    await expect(cache.get(ACTION)).rejects.toThrow('[E3]');
  });
});
