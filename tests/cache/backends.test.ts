/**
 * The two cache backends against the real servers on loopback (Debian's nginx with WebDAV PUT,
 * BuildStream's bst-artifact-server): a signed cache entry and its output closure (small files,
 * a file above the batch limit so REAPI goes through ByteStream, a symlink, a nested directory)
 * pushed from store A and substituted into a fresh store B; a re-push sends no object; a tampered
 * record, an untrusted key, a flipped byte, a truncated object, a 404 and an unreachable cache are
 * each refused with their named error and leave store B without the output.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HttpCache,
  ReapiCache,
  httpCachePath,
  openCache,
  pushAction,
  substituteFrom,
  substitutionPath,
  type CacheBackend,
} from '../../cache/index.ts';
import { constructiveRebuilder, keySigner, openActionCache } from '../../scheduler/index.ts';
import {
  CacheObjectRefusedError,
  CacheRecordRefusedError,
  CacheTransportError,
  Store,
  digestBytes,
  emptyTrustPolicy,
  generateKey,
  makeKeyring,
  readSecretKey,
  trustKey,
  type Digest,
  type KeyringEntry,
} from '../../src/kernel/index.ts';
import { tempDir } from '../helpers/fs.ts';
import { freePort, startBst, startNginx, type CacheServer } from '../../bench/cache/servers.ts';

let nginx: CacheServer;
let bst: CacheServer;
let storeA: Store;
let key: KeyringEntry;
let other: KeyringEntry;
const action = digestBytes(`cache backends test ${Date.now()} ${process.pid}`);
let output: Digest;

const trusted = (k: KeyringEntry, purpose: 'builds' | 'cache' = 'cache') => ({
  keyring: makeKeyring([key, other], 'test keyring'),
  policy: trustKey(emptyTrustPolicy(), k.id, [purpose]),
});

beforeAll(async () => {
  [nginx, bst] = await Promise.all([startNginx(), startBst()]);
  storeA = new Store(tempDir('cache-store-a'));
  const src = tempDir('cache-src');
  const big = Buffer.alloc(700 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 10)) & 0xff;
  for (const d of ['bin', 'lib', 'share/doc/deep']) mkdirSync(join(src, d), { recursive: true });
  writeFileSync(join(src, 'bin', 'tool'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
  writeFileSync(join(src, 'lib', 'libx.so.1'), 'not really a library\n');
  symlinkSync('libx.so.1', join(src, 'lib', 'libx.so'));
  writeFileSync(join(src, 'share', 'doc', 'deep', 'README'), `readme ${action}\n`);
  writeFileSync(join(src, 'share', 'big.bin'), big);
  output = (await storeA.ingest(src)).digest;
  const log = await storeA.blobs.put(new TextEncoder().encode(`log of ${action}\n`));
  const config = tempDir('cache-config-a');
  key = await generateKey(config, 'builder');
  other = await generateKey(config, 'stranger');
  const signer = keySigner((await readSecretKey(config, 'builder')).seed);
  await constructiveRebuilder(openActionCache(storeA), { signer }).record({
    action,
    output,
    world: digestBytes('world'),
    log,
    durationMs: 5,
    seedMode: 'host',
  });
}, 60_000);

afterAll(async () => {
  await Promise.all([nginx?.close(), bst?.close()]);
});

/** The output and the action's entry are absent from `store`. */
async function nothingEntered(store: Store): Promise<void> {
  expect(await store.trees.has(output)).toBe(false);
  expect(await openActionCache(store).get(action)).toBeUndefined();
}

for (const which of ['http (nginx)', 'reapi (bst-artifact-server)'] as const) {
  describe(`the ${which} backend`, () => {
    const server = () => (which.startsWith('http') ? nginx : bst);
    const open = (): CacheBackend => openCache(server().url);

    it('pushes a closure, substitutes it into a fresh store, and a re-push sends no object', async () => {
      const cache = open();
      try {
        const first = await pushAction(storeA, cache, action);
        expect(first.sent).toBe(first.objects);
        expect(first.entrySent).toBe(true);
        const again = await pushAction(storeA, cache, action);
        expect(again).toMatchObject({ sent: 0, sentBytes: 0, present: first.objects, entrySent: false });

        const storeB = new Store(tempDir('cache-store-b'));
        const got = await substituteFrom(cache, action, storeB, trusted(key));
        expect(got?.substitution).toMatchObject({ action, output, cache: server().url, key: key.id });
        expect(got!.substitution.objects).toBe(first.objects);
        expect(await storeB.trees.has(output)).toBe(true);
        expect((await openActionCache(storeB).get(action))?.record.output).toBe(output);
        const out = tempDir('cache-out');
        await storeB.materialize(output, out);
        expect(statSync(join(out, 'share', 'big.bin')).size).toBe(700 * 1024);
        expect(readFileSync(join(out, 'bin', 'tool'), 'utf8')).toBe('#!/bin/sh\necho tool\n');
        expect(JSON.parse(readFileSync(substitutionPath(storeB.root, action), 'utf8'))).toMatchObject({
          format: 'eos.substitution',
          cache: server().url,
          output,
        });
        // Trusted for builds works as well as for cache.
        const storeB2 = new Store(tempDir('cache-store-b2'));
        expect(await substituteFrom(cache, action, storeB2, trusted(key, 'builds'))).toBeDefined();
        // A miss is no error.
        expect(
          await substituteFrom(cache, digestBytes('no such action'), storeB2, trusted(key)),
        ).toBeUndefined();
      } finally {
        cache.close();
      }
    });

    it('refuses an untrusted key (E59) and leaves nothing in the store', async () => {
      const cache = open();
      try {
        await pushAction(storeA, cache, action);
        const storeC = new Store(tempDir('cache-store-c'));
        const e = await substituteFrom(cache, action, storeC, trusted(other)).catch((x: unknown) => x);
        expect(e).toBeInstanceOf(CacheRecordRefusedError);
        expect((e as CacheRecordRefusedError).data.reason).toBe('untrusted');
        await nothingEntered(storeC);
      } finally {
        cache.close();
      }
    });

    it('an unreachable cache is E58', async () => {
      const port = await freePort();
      const cache = openCache(
        which.startsWith('http') ? `http://127.0.0.1:${port}/eos` : `grpc://127.0.0.1:${port}`,
      );
      try {
        const storeC = new Store(tempDir('cache-store-c'));
        await expect(substituteFrom(cache, action, storeC, trusted(key))).rejects.toBeInstanceOf(
          CacheTransportError,
        );
      } finally {
        cache.close();
      }
    }, 60_000);
  });
}

describe('what bst-artifact-server offers (GetCapabilities, and the calls themselves)', () => {
  it('SHA-256 only, no ActionCache (neither advertised nor served), no Execution: Eos uses SHA-256 and ReferenceStorage', async () => {
    const cache = new ReapiCache(bst.url);
    try {
      const caps = await cache.capabilities();
      expect(caps).toEqual({
        digestFunctions: [1],
        digestFunction: 'sha256',
        maxBatchBytes: 1024 * 1024,
        actionCacheUpdate: false,
        execution: false,
      });
      expect(await cache.digestFunction()).toBe('sha256');
      // Not only unadvertised: GetActionResult is UNIMPLEMENTED on this server.
      expect(await cache.servesActionCache()).toBe(false);
    } finally {
      cache.close();
    }
  });

  it('a server that answers no REAPI at all is E58 for the capabilities and the ActionCache probe', async () => {
    // nginx speaks HTTP/1.1, not gRPC: every call fails, and the failure is named E58.
    const cache = new ReapiCache(`grpc://${new URL(nginx.url).host}`);
    try {
      await expect(cache.capabilities()).rejects.toBeInstanceOf(CacheTransportError);
      await expect(cache.servesActionCache()).rejects.toBeInstanceOf(CacheTransportError);
    } finally {
      cache.close();
    }
  }, 60_000);
});

describe('damage on the server', () => {
  it('nginx: a tampered record is E59, a flipped byte and a truncated object E60, a missing object E60, a missing entry a miss', async () => {
    const cache = new HttpCache(nginx.url);
    await pushAction(storeA, cache, action);
    const file = (p: string) => join(nginx.dir, p);
    const entryFile = file(httpCachePath('action', action));
    const entry = readFileSync(entryFile);

    // Tampered: the record's duration changed, the signature kept.
    writeFileSync(entryFile, entry.toString().replace('"durationMs":5', '"durationMs":6'));
    let storeC = new Store(tempDir('cache-store-c'));
    const e1 = await substituteFrom(cache, action, storeC, trusted(key)).catch((x: unknown) => x);
    expect(e1).toBeInstanceOf(CacheRecordRefusedError);
    expect(String(e1)).toMatch(/\[E59\].*signs another digest/);
    await nothingEntered(storeC);
    writeFileSync(entryFile, entry);

    // A flipped byte in the big blob.
    const tree = await storeA.getTree(output);
    const share = await storeA.getTree(
      (tree.entries.find((x) => x.name === 'share') as { digest: Digest }).digest,
    );
    const big = (share.entries.find((x) => x.name === 'big.bin') as { digest: Digest }).digest;
    const bigFile = file(httpCachePath('blob', big));
    const bytes = readFileSync(bigFile);
    const flipped = Buffer.from(bytes);
    flipped[1234] = flipped[1234]! ^ 0x01;
    writeFileSync(bigFile, flipped);
    storeC = new Store(tempDir('cache-store-c'));
    const e2 = await substituteFrom(cache, action, storeC, trusted(key)).catch((x: unknown) => x);
    expect(e2).toBeInstanceOf(CacheObjectRefusedError);
    expect(String(e2)).toContain(
      `[E60] cache ${nginx.url}: object ${big}: its ${bytes.length} bytes hash to`,
    );
    await nothingEntered(storeC);
    expect(await storeC.blobs.has(big)).toBe(false);

    // Truncated: the server holds (and serves) only half of it.
    writeFileSync(bigFile, bytes);
    truncateSync(bigFile, bytes.length >> 1);
    const e3 = await substituteFrom(cache, action, storeC, trusted(key)).catch((x: unknown) => x);
    expect(e3).toBeInstanceOf(CacheObjectRefusedError);
    await nothingEntered(storeC);

    // Gone (a 404 for an object the record needs): E60; a 404 for the entry: a miss.
    writeFileSync(bigFile, bytes);
    const logFile = file(httpCachePath('blob', (await openActionCache(storeA).get(action))!.record.log));
    const logBytes = readFileSync(logFile);
    unlinkSync(logFile);
    const e4 = await substituteFrom(cache, action, storeC, trusted(key)).catch((x: unknown) => x);
    expect(e4).toBeInstanceOf(CacheObjectRefusedError);
    expect(String(e4)).toContain('the cache lacks this blob');
    await nothingEntered(storeC);
    writeFileSync(logFile, logBytes);
    unlinkSync(entryFile);
    expect(await substituteFrom(cache, action, storeC, trusted(key))).toBeUndefined();
    // A re-push restores exactly the entry.
    const re = await pushAction(storeA, cache, action);
    expect(re).toMatchObject({ sent: 0, entrySent: true });
    expect(await substituteFrom(cache, action, storeC, trusted(key))).toBeDefined();
  });

  it('bst-artifact-server: a flipped byte in a CAS object is E60 and nothing enters the store', async () => {
    const cache = new ReapiCache(bst.url);
    try {
      await pushAction(storeA, cache, action);
      const tree = await storeA.getTree(output);
      const bin = await storeA.getTree(
        (tree.entries.find((x) => x.name === 'bin') as { digest: Digest }).digest,
      );
      const tool = (bin.entries[0] as { digest: Digest }).digest;
      const toolBytes = await storeA.blobs.get(tool);
      const sha = createHash('sha256').update(toolBytes).digest('hex');
      const objFile = join(bst.dir, 'cas', 'objects', sha.slice(0, 2), sha.slice(2));
      const flipped = Buffer.from(readFileSync(objFile));
      flipped[3] = flipped[3]! ^ 0x20;
      chmodSync(objFile, 0o644);
      writeFileSync(objFile, flipped);
      const storeC = new Store(tempDir('cache-store-c'));
      const e = await substituteFrom(cache, action, storeC, trusted(key)).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(CacheObjectRefusedError);
      expect(String(e)).toContain(`object ${tool}`);
      await nothingEntered(storeC);
      expect(await storeC.blobs.has(tool)).toBe(false);
      writeFileSync(objFile, toolBytes);
    } finally {
      cache.close();
    }
  });
});
