import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { localClosure, openCache, pushAction, substituteFrom } from '../../cache/index.ts';
import { constructiveRebuilder, keySigner, openActionCache } from '../../scheduler/index.ts';
import { Store, digestBytes, emptyTrustPolicy, generateKey, readKeyring, readSecretKey, trustKey } from '../../src/kernel/index.ts';
import { startBst, startNginx } from './servers.ts';
const d = mkdtempSync(join(tmpdir(), 'eos-cache-perf-'));
const A = new Store(join(d, 'a'));
const out = (await A.ingest(process.argv[2] ?? '/usr/include/openssl')).digest;
const log = await A.blobs.put(new TextEncoder().encode('x'));
const cfg = join(d, 'cfg'); const key = await generateKey(cfg, 'k');
const action = digestBytes('perf' + Date.now());
await constructiveRebuilder(openActionCache(A), { signer: keySigner((await readSecretKey(cfg, 'k')).seed) }).record({ action, output: out, world: digestBytes('w'), log, durationMs: 1, seedMode: 'host' });
const objs = await localClosure(A, [out, log]);
writeFileSync(join(d, 'list'), objs.map((o) => relative(A.root, o.kind === 'tree' ? A.treePath(o.digest) : A.blobPath(o.digest))).join('\n') + '\n');
let t = performance.now();
execFileSync('rsync', ['-a', `--files-from=${join(d, 'list')}`, `${A.root}/`, join(d, 'dest')]);
console.log('objects', objs.length, 'rsync local', ((performance.now() - t) / 1000).toFixed(3));
const trust = { keyring: await readKeyring(cfg), policy: trustKey(emptyTrustPolicy(), key.id, ['cache']) };
for (const s of [await startNginx(), await startBst()]) {
  const c = openCache(s.url);
  t = performance.now(); const p = await pushAction(A, c, action); const ps = (performance.now() - t) / 1000;
  t = performance.now(); await pushAction(A, c, action); const rs = (performance.now() - t) / 1000;
  t = performance.now(); const g = await substituteFrom(c, action, new Store(join(d, 'b' + s.url.length + Math.random())), trust); const ss = (performance.now() - t) / 1000;
  console.log(s.url, 'push', ps.toFixed(3), 'sent', p.sent, 'repush', rs.toFixed(3), 'subst', ss.toFixed(3), g?.substitution.objects);
  c.close(); await s.close();
}
