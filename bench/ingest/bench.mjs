// Times each peer over the same source tree and prints MB/s and the ratios eos/ostree and
// eos/b3sum. MB/s are over the tree's file bytes (every path of a hard-linked file counted), so
// the ratios are ratios of wall-clock times. Cold runs follow `sync; echo 3 > drop_caches`, warm
// runs a full read of the tree; each figure is the better of two runs (the machine is shared). See bench/ingest/README.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const src = resolve(process.argv[2] ?? '/usr/lib/x86_64-linux-gnu');
const repo = resolve(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(process.env.EOS_BENCH_DIR ?? tmpdir(), 'eos-bench-'));

// The tree: file bytes per path, and one path per inode for b3sum (eos and ostree read an inode once).
let treeBytes = 0;
let files = 0;
const seen = new Set();
const unique = [];
(function walk(d) {
  for (const name of readdirSync(d)) {
    const p = join(d, name);
    const st = lstatSync(p);
    if (st.isDirectory()) walk(p);
    else if (st.isFile()) {
      files++;
      treeBytes += st.size;
      const key = `${st.dev}:${st.ino}`;
      if (!seen.has(key)) {
        seen.add(key);
        unique.push(p);
      }
    }
  }
})(src);
const listFile = join(work, 'files.list');
writeFileSync(listFile, unique.join('\0') + '\0');

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
}
function dropCaches() {
  sh('sync', []);
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}
function warmUp() {
  sh('sh', ['-c', `xargs -0 cat < '${listFile}' > /dev/null`]);
}

let n = 0;
const tools = {
  eos() {
    const store = join(work, `eos-${n++}`);
    return [
      process.execPath,
      [join(repo, 'bin', 'eos.mjs'), '--store', store, 'store', 'add', src],
      () => rmSync(store, { recursive: true, force: true }),
    ];
  },
  ostree() {
    const r = join(work, `ostree-${n++}`);
    sh('ostree', ['init', `--repo=${r}`, '--mode=bare-user']);
    return [
      'ostree',
      ['commit', `--repo=${r}`, '--branch=bench', `--tree=dir=${src}`],
      () => rmSync(r, { recursive: true, force: true }),
    ];
  },
  b3sum() {
    return ['sh', ['-c', `xargs -0 b3sum < '${listFile}' > /dev/null`], () => {}];
  },
  'cp -a'() {
    const d = join(work, `cp-${n++}`);
    return ['cp', ['-a', src, d], () => rmSync(d, { recursive: true, force: true })];
  },
};

function time(tool, cold) {
  const [cmd, args, cleanup] = tools[tool]();
  sh('sync', []);
  if (cold) dropCaches();
  const t = process.hrtime.bigint();
  sh(cmd, args);
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  sh('sync', []);
  cleanup();
  return s;
}

const canDrop = dropCaches();
const MB = 1e6;
const results = { src, files, treeBytes, uniqueFiles: unique.length, cold: {}, warm: {} };
console.log(
  `eos ingest bench: ${src}: ${files} files, ${(treeBytes / MB).toFixed(0)} MB of file bytes (${unique.length} distinct inodes)`,
);
console.log(
  `cpus ${spawnSync('nproc').stdout.toString().trim()}, load ${execFileSync('cat', ['/proc/loadavg']).toString().split(' ').slice(0, 3).join(' ')}`,
);
if (!canDrop) console.log('note: cannot drop caches (not root): "cold" runs are warm');
console.log('mode\ttool\tseconds\tMB/s');
for (const mode of ['cold', 'warm']) {
  for (const tool of Object.keys(tools)) {
    let s;
    // The best of two runs (one with EOS_BENCH_QUICK=1, as bench/run-all.sh --quick sets).
    const reps = process.env.EOS_BENCH_QUICK === '1' ? 1 : 2;
    s = Infinity;
    for (let k = 0; k < reps; k++) {
      if (mode === 'warm') warmUp();
      s = Math.min(s, time(tool, mode === 'cold'));
    }
    results[mode][tool] = s;
    console.log(`${mode}\t${tool}\t${s.toFixed(2)}\t${(treeBytes / MB / s).toFixed(0)}`);
  }
}
// How much of each eos run is start-up (node + the compiled CLI + commander), not ingest.
const startup = Math.min(
  ...[0, 1].map(() => {
    const t = process.hrtime.bigint();
    sh(process.execPath, [join(repo, 'bin', 'eos.mjs'), '--version']);
    return Number(process.hrtime.bigint() - t) / 1e9;
  }),
);
results.eosStartupSeconds = startup;
console.log(`eos start-up alone (eos --version): ${startup.toFixed(2)} s, included in the eos times above`);
for (const mode of ['cold', 'warm']) {
  const r = results[mode];
  console.log(
    `ratio\t${mode}\teos/ostree ${(r.ostree / r.eos).toFixed(2)} (goal >= 1)\teos/b3sum ${(r.b3sum / r.eos).toFixed(2)} (goal >= 0.5)\teos/cp ${(r['cp -a'] / r.eos).toFixed(2)}`,
  );
}
// Rows for bench/run-all.sh's table: speed relative to the peer (peer seconds / eos seconds).
const speedRow = (measure, eos, peer, goal) => ({
  measure,
  eos,
  peer,
  unit: 's',
  ratio: peer / eos,
  goal: `>= ${goal}`,
  met: peer / eos >= goal,
});
results.rows = [
  speedRow(`ingest ${src} cold: eos speed vs b3sum`, results.cold.eos, results.cold.b3sum, 0.5),
  speedRow(`ingest ${src} warm: eos speed vs ostree commit`, results.warm.eos, results.warm.ostree, 1.5),
];
mkdirSync(join(repo, 'bench', 'out'), { recursive: true });
writeFileSync(join(repo, 'bench', 'out', 'ingest.json'), JSON.stringify(results, null, 2) + '\n');
rmSync(work, { recursive: true, force: true });
