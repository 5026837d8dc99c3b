/**
 * A push killed midway (a real SIGKILL of `eos cache push`, against the real nginx and the real
 * bst-artifact-server on loopback): the cache it leaves never has an entry naming a missing
 * object. Store A holds two signed actions: a small one and a large one (3,000 files). The push
 * of both is killed once the small one's entry and some of the large one's objects are on the
 * server: then the small action substitutes in full, the large one is a miss (its entry is not
 * there though some of its objects are); a second push sends only the objects still missing, and
 * a third sends none.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  httpCachePath,
  localClosure,
  openCache,
  pushAction,
  reapiActionKey,
  substituteFrom,
  type PushObject,
} from '../../cache/index.ts';
import { constructiveRebuilder, keySigner, openActionCache } from '../../scheduler/index.ts';
import {
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
import { eosBin, tempDir } from '../helpers/fs.ts';
import { startBst, startNginx, type CacheServer } from '../../bench/cache/servers.ts';

const FILES = 3000;
let nginx: CacheServer;
let bst: CacheServer;
let storeA: Store;
let key: KeyringEntry;
let small: Digest;
let large: Digest;
/** The large action's objects that the small one does not share. */
let largeOnly: PushObject[];

beforeAll(async () => {
  [nginx, bst] = await Promise.all([startNginx(), startBst()]);
  storeA = new Store(tempDir('cache-kill-store-a'));
  const config = tempDir('cache-kill-config');
  key = await generateKey(config, 'builder');
  const signer = keySigner((await readSecretKey(config, 'builder')).seed);
  const file = async (label: string, build: (dir: string) => void): Promise<Digest> => {
    const src = tempDir(`cache-kill-${label}`);
    build(src);
    const output = (await storeA.ingest(src)).digest;
    const log = await storeA.blobs.put(new TextEncoder().encode(`log of ${label}\n`));
    const action = digestBytes(`cache kill test ${label} ${Date.now()} ${process.pid}`);
    await constructiveRebuilder(openActionCache(storeA), { signer }).record({
      action,
      output,
      world: digestBytes('world'),
      log,
      durationMs: 1,
      seedMode: 'host',
    });
    return action;
  };
  small = await file('small', (d) => {
    mkdirSync(join(d, 'bin'));
    writeFileSync(join(d, 'bin', 'tool'), `small ${process.pid}\n`, { mode: 0o755 });
  });
  large = await file('large', (d) => {
    for (let i = 0; i < FILES; i++) {
      const sub = join(d, `d${i % 30}`);
      mkdirSync(sub, { recursive: true });
      writeFileSync(join(sub, `f${i}`), `file ${i} of the large output ${process.pid}\n`.repeat(1 + (i % 7)));
    }
  });
  const ofSmall = new Set(
    (await localClosure(storeA, [(await openActionCache(storeA).get(small))!.record.output])).map(
      (o) => o.digest,
    ),
  );
  const rec = (await openActionCache(storeA).get(large))!.record;
  largeOnly = (await localClosure(storeA, [rec.output, rec.log])).filter((o) => !ofSmall.has(o.digest));
}, 120_000);

afterAll(async () => {
  await Promise.all([nginx?.close(), bst?.close()]);
});

/** Where each server keeps an entry and an object (to watch the push from outside). */
const layout = {
  http: {
    server: () => nginx,
    entry: (a: Digest) => join(nginx.dir, httpCachePath('action', a)),
    object: async (o: PushObject) => join(nginx.dir, httpCachePath(o.kind, o.digest)),
  },
  reapi: {
    server: () => bst,
    // bst-artifact-server files a reference under cas/refs/heads/KEY and a blob under cas/objects/ by SHA-256.
    entry: (a: Digest) => join(bst.dir, 'cas', 'refs', 'heads', reapiActionKey(a)),
    object: async (o: PushObject) => {
      const sha = createHash('sha256')
        .update(await o.bytes())
        .digest('hex');
      return join(bst.dir, 'cas', 'objects', sha.slice(0, 2), sha.slice(2));
    },
  },
} as const;

for (const which of ['http', 'reapi'] as const) {
  describe(`a push to ${which === 'http' ? 'nginx' : 'bst-artifact-server'} killed midway`, () => {
    it('leaves no entry naming a missing object; the next push completes it, the one after sends nothing', async () => {
      const l = layout[which];
      const url = l.server().url;
      const paths = await Promise.all(largeOnly.map((o) => l.object(o)));
      const watched = paths.filter((_, i) => i % 10 === 0); // a sample, so that watching stays cheap
      const child = spawn(process.execPath, [eosBin, 'cache', 'push', url, small, large], {
        env: { ...process.env, EOS_STORE: storeA.root },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
      const exited = new Promise<NodeJS.Signals | number | null>((r) =>
        child.once('exit', (code, sig) => r(sig ?? code)),
      );
      // Kill as soon as the small entry and any object of the large action are on the server.
      const until = Date.now() + 120_000;
      let killedAt = -1;
      while (child.exitCode === null && Date.now() < until) {
        if (existsSync(l.entry(small))) {
          const n = watched.filter((p) => existsSync(p)).length;
          if (n > 0) {
            child.kill('SIGKILL');
            killedAt = n;
            break;
          }
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      expect(await exited, `the push ended by itself before it could be killed: ${err}`).toBe('SIGKILL');
      const there = paths.filter((p) => existsSync(p)).length;
      expect(killedAt).toBeGreaterThan(0);
      // Midway: the large action's entry is not there, and neither are all its objects.
      expect(existsSync(l.entry(large))).toBe(false);
      expect(there).toBeLessThan(largeOnly.length);

      // A reader: the small action substitutes in full, the large one is a miss (not a refusal).
      const trust = {
        keyring: makeKeyring([key], 'test keyring'),
        policy: trustKey(emptyTrustPolicy(), key.id, ['cache']),
      };
      const cache = openCache(url);
      try {
        const storeB = new Store(tempDir('cache-kill-store-b'));
        expect((await substituteFrom(cache, small, storeB, trust))?.substitution.action).toBe(small);
        expect(await substituteFrom(cache, large, storeB, trust)).toBeUndefined();

        // Uploads the server had wholly received when the client died still land after the kill
        // (up to 16 are in flight): wait until the server's objects stop changing.
        let settled = paths.filter((p) => existsSync(p)).length;
        for (let quiet = 0; quiet < 10;) {
          await new Promise((r) => setTimeout(r, 50));
          const n = paths.filter((p) => existsSync(p)).length;
          quiet = n === settled ? quiet + 1 : 0;
          settled = n;
        }
        // The next push sends exactly what is missing (not what arrived); the one after, nothing.
        const again = await pushAction(storeA, cache, large);
        expect(again.entrySent).toBe(true);
        expect(again.sent).toBe(largeOnly.length - settled);
        expect(again.sent).toBeLessThanOrEqual(largeOnly.length - there);
        const third = await pushAction(storeA, cache, large);
        expect(third).toMatchObject({ sent: 0, sentBytes: 0, entrySent: false });
        expect(third.present).toBe(third.objects);
        const got = await substituteFrom(cache, large, storeB, trust);
        expect(got?.substitution.output).toBe((await openActionCache(storeA).get(large))!.record.output);
      } finally {
        cache.close();
      }
    }, 300_000);
  });
}
