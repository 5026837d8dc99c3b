/**
 * The Eos side of the Nix comparison: builds a DAG of trivial actions (`/bin/sh -c 'echo … > $out'`,
 * UNSANDBOXED; each output file and log stored as a blob in a real store) with the real scheduler,
 * real action keys and the store's action cache (entries and roots), then prints one JSON line of timings. Run it twice on
 * the same store for a no-op rebuild.
 *
 * Usage: npx tsx bench/scheduler/eos-trivial.ts DAG.json STORE_DIR JOBS
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, digestBytes } from '../../src/kernel/index.ts';
import { actionId, schedule, storeRebuilder, type SyntheticNode } from '../../scheduler/index.ts';

const [dagPath, store, jobsArg] = process.argv.slice(2);
if (!dagPath || !store) {
  process.stderr.write('usage: eos-trivial.ts DAG.json STORE_DIR JOBS\n');
  process.exit(2);
}
const t0 = performance.now();
const nodes = JSON.parse(await readFile(dagPath, 'utf8')) as SyntheticNode[];
const st = new Store(store);
const work = await mkdtemp(join(tmpdir(), 'eos-trivial-'));
const toolchain = digestBytes('host /bin/sh (unsandboxed)');
const recipe = digestBytes("recipe: sh -c 'echo NAME DEPS > $out'");
let executed = 0;
const res = await schedule({
  nodes,
  jobs: Number(jobsArg ?? 2),
  seedMode: 'fast',
  key: (n, depOutputs) =>
    actionId({
      atom: digestBytes(`atom ${n.label}`),
      recipe,
      args: {},
      toolchain,
      seedMode: 'fast',
      arch: 'x86_64-linux',
      deps: { ...depOutputs },
    }),
  rebuilder: storeRebuilder(st),
  executor: (n, ctx) =>
    new Promise((resolve, reject) => {
      executed++;
      const out = join(work, n.label);
      const deps = Object.values(ctx.depOutputs).join(' ');
      const child = spawn('/bin/sh', ['-c', `echo ${n.label} ${deps} > "$out"`], {
        env: { out, PATH: '/usr/bin:/bin' },
        signal: ctx.signal,
        stdio: 'ignore',
      });
      child.on('error', reject);
      child.on('exit', async (code) => {
        if (code !== 0) return reject(new Error(`${n.label}: sh exited ${code}`));
        try {
          const output = await st.blobs.put(await readFile(out));
          const log = await st.blobs.put(new Uint8Array());
          resolve({ output, world: toolchain, log });
        } catch (e) {
          reject(e);
        }
      });
    }),
});
await rm(work, { recursive: true, force: true });
const counts: Record<string, number> = {};
for (const r of res.results.values()) counts[r.status] = (counts[r.status] ?? 0) + 1;
process.stdout.write(
  JSON.stringify({
    inProcessS: (performance.now() - t0) / 1000,
    executed,
    counts,
    makespanMs: res.makespanMs,
  }) + '\n',
);
