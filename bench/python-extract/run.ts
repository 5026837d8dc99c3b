// bench/python-extract: the Python extractor (RECORD check of every distribution + imports of
// every .py file via @lezer/python) over an import root, against a peer measured in the same
// run: CPython itself doing the same work with its own modules (csv + hashlib for every RECORD,
// `ast.parse` + a walk for every .py file). Prints seconds, MB/s of .py source and the ratio.
//
//   npx tsx bench/python-extract/run.ts [IMPORT_ROOT]     (default: /usr/lib/python3/dist-packages)
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { listPythonTree, readPythonManifest } from '../../extractors/index.ts';

const root = process.argv[2] ?? '/usr/lib/python3/dist-packages';

const PEER = `
import ast, csv, hashlib, base64, os, sys, time
root = sys.argv[1]
t0 = time.perf_counter()
files = []
for d, dirs, names in os.walk(root):
    for n in names:
        files.append(os.path.join(d, n))
checked = 0
for dist in os.listdir(root):
    rec = os.path.join(root, dist, 'RECORD')
    if dist.endswith('.dist-info') and os.path.isfile(rec):
        for row in csv.reader(open(rec, newline='', encoding='utf-8')):
            if len(row) < 2 or not row[1]:
                continue
            full = os.path.normpath(os.path.join(root, row[0]))
            if full.startswith(root + os.sep) and os.path.isfile(full):
                algo, want = row[1].split('=', 1)
                base64.urlsafe_b64encode(hashlib.new(algo, open(full, 'rb').read()).digest())
                checked += 1
imports = 0
for f in files:
    if f.endswith('.py'):
        try:
            tree = ast.parse(open(f, 'rb').read())
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imports += 1
print(time.perf_counter() - t0, checked, imports)
`;

const paths = listPythonTree(root);
const sourceBytes = paths
  .filter((p) => p.endsWith('.py'))
  .reduce((n, p) => n + statSync(join(root, p)).size, 0);
const mb = sourceBytes / 1e6;

const t0 = performance.now();
const m = readPythonManifest(root);
const eosSeconds = (performance.now() - t0) / 1000;
const checked = m.provides.distributions.reduce(
  (n, d) => n + (d.record?.verified ?? 0) + (d.record?.mismatches.length ?? 0),
  0,
);

const [peerSeconds, peerChecked] = execFileSync('python3', ['-I', '-', root], {
  input: PEER,
  encoding: 'utf8',
})
  .trim()
  .split(' ')
  .map(Number) as [number, number, number];

console.log(
  `tree ${root}: ${paths.length} files, ${m.requires.files.length} .py files (${mb.toFixed(1)} MB)`,
);
console.log(
  `eos      ${eosSeconds.toFixed(2)} s  ${(mb / eosSeconds).toFixed(2)} MB/s  (${checked} RECORD rows hashed)`,
);
console.log(
  `python3  ${peerSeconds.toFixed(2)} s  ${(mb / peerSeconds).toFixed(2)} MB/s  (${peerChecked} RECORD rows hashed)`,
);
console.log(`ratio eos/python3: ${(eosSeconds / peerSeconds).toFixed(2)} (time; < 1 means eos is faster)`);
