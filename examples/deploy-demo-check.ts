/**
 * examples/deploy-demo-check.ts OLD_ROOT NEW_ROOT PUSHED-LINE: the deploy demo's check that a
 * post-swap deploy pushed only OpenSSL's blobs: the blobs of NEW_ROOT that OLD_ROOT lacks all come
 * from its OpenSSL entry, and the push sent no more blobs than those (plus the two unit files).
 * Reads the store at $EOS_STORE; exit 1 when the check fails.
 */
import { Store, type Digest } from '../src/kernel/index.ts';
import { CompositionStore } from '../composer/index.ts';

const [oldRoot, newRoot, pushedLine] = process.argv.slice(2) as [Digest, Digest, string];
const cs = new CompositionStore(new Store(process.env.EOS_STORE!));

async function blobs(root: Digest): Promise<Map<Digest, string>> {
  const c = await cs.load(root);
  const out = new Map<Digest, string>();
  const walk = async (d: Digest, name: string): Promise<void> => {
    for (const e of (await cs.store.getTree(d)).entries) {
      if (e.kind === 'file') out.set(e.digest, name);
      else if (e.kind === 'directory') await walk(e.digest, name);
    }
  };
  for (const [name, e] of Object.entries(c.entries)) {
    if (e.node.kind === 'tree') await walk(e.node.digest, name);
    else if (e.node.kind === 'file') out.set(e.node.digest, name);
  }
  return out;
}

const before = await blobs(oldRoot);
const fresh = [...(await blobs(newRoot))].filter(([d]) => !before.has(d));
const entries = [...new Set(fresh.map(([, n]) => n))];
const pushed = Object.fromEntries(
  pushedLine
    .split('\t')
    .slice(1)
    .map((kv) => kv.split('=') as [string, string]),
);
console.log(
  `blobs of ${newRoot} not in ${oldRoot}: ${fresh.length}, all in entry ${entries.join(', ')}; pushed ${pushed.blobs} blobs (those and the service and mount units)`,
);
if (entries.some((n) => n !== 'openssl')) {
  console.error('deploy demo: an entry other than openssl changed');
  process.exitCode = 1;
} else if (Number(pushed.blobs) > fresh.length + 2) {
  console.error('deploy demo: more blobs than the new OpenSSL ones were pushed');
  process.exitCode = 1;
}
