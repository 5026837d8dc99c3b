// Helpers of examples/corpus/corpus.sh over `eos --json build` documents (specs/scheduler.md §10):
//   summary FILE            ok/cached/FAIL/skipped lines
//   outputs FILE            LABEL<TAB>OUTPUT for every ok or cached action
//   durations FILE TSV      merges the ok actions' build seconds into TSV (LABEL<TAB>SECONDS), first kept
//   history FILE TSV        fills TSV's missing build seconds from the store's scheduler history
//   check FILE TSV          writes LABEL<TAB>yes|no<TAB>first difference, from a --check run
//   closure-size FILE MNT   the sum of an `eos --json closure` document's member sizes under MNT
//   table RESULTS           the corpus table from RESULTS/{versions,durations,sizes,closure,check,smoke}.tsv
//   unsatisfied FILE LABEL  an `eos --json closure` document's unsatisfied items: `recorded` (listed for
//                           LABEL in upstream-unsatisfied.tsv), `open` (not listed), `stale` (listed, gone)
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [cmd, file, arg] = process.argv.slice(2);
const doc = () => JSON.parse(readFileSync(file, 'utf8'));
const readTsv = (p) =>
  existsSync(p)
    ? new Map(
        readFileSync(p, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => {
            const [k, ...rest] = l.split('\t');
            return [k, rest];
          }),
      )
    : new Map();
const writeTsv = (p, m) =>
  writeFileSync(
    p,
    [...m]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => [k, ...v].join('\t') + '\n')
      .join(''),
  );

switch (cmd) {
  case 'summary': {
    const d = doc();
    if (d.error) console.log(`error\t${d.error.message}`);
    for (const e of d.events ?? []) {
      if (e.type === 'ok' && e.check && !e.check.same) console.log(`irreproducible\t${e.label}`);
      else if (e.type === 'ok') console.log(`ok\t${e.label}\t${(e.durationMs / 1000).toFixed(1)} s`);
      else if (e.type === 'cached') console.log(`cached\t${e.label}`);
      else if (e.type === 'failed')
        console.log(`FAIL\t${e.label}\t${e.detail}${e.log ? ` (log: ${e.log})` : ''}`);
      else if (e.type === 'skipped') console.log(`skipped\t${e.label}\t${e.detail}`);
    }
    for (const x of d.differences ?? []) console.log(`differs\t${x.label}\t${x.path}\t${x.reason}`);
    break;
  }
  case 'outputs': {
    const seen = new Map();
    for (const e of doc().events ?? [])
      if ((e.type === 'ok' || e.type === 'cached') && e.output)
        seen.set(e.label, e.check?.expected ?? e.output);
    for (const [l, o] of seen) console.log(`${l}\t${o}`);
    break;
  }
  case 'durations': {
    const m = readTsv(arg);
    for (const e of doc().events ?? [])
      if (e.type === 'ok' && !e.check && !m.has(e.label)) m.set(e.label, [(e.durationMs / 1000).toFixed(1)]);
    writeTsv(arg, m);
    break;
  }
  case 'history': {
    // The scheduler's duration history (specs/scheduler.md) fills build seconds not seen in a run.
    const m = readTsv(arg);
    for (const [label, ms] of Object.entries(doc().durationsMs ?? {}))
      if (!m.has(label)) m.set(label, [(ms / 1000).toFixed(1)]);
    writeTsv(arg, m);
    break;
  }
  case 'check': {
    const d = doc();
    const m = readTsv(arg);
    const diff = new Map((d.differences ?? []).map((x) => [x.label, `${x.path} (${x.reason}: ${x.detail})`]));
    for (const e of d.events ?? []) {
      if (e.type === 'ok' && e.check)
        m.set(e.label, [e.check.same ? 'yes' : 'no', e.check.same ? '' : (diff.get(e.label) ?? '')]);
      else if (e.type === 'failed')
        m.set(e.label, ['rebuild failed', e.detail.replace(/\s+/g, ' ').slice(0, 200)]);
    }
    writeTsv(arg, m);
    break;
  }
  case 'closure-size': {
    // Sum of the closure members' file sizes in the mounted composition (arg: the mount point).
    let bytes = 0;
    for (const m of doc().members ?? []) bytes += statSync(join(arg, m.path)).size;
    console.log(bytes);
    break;
  }
  case 'table': {
    const r = file;
    const t = (n) => readTsv(join(r, `${n}.tsv`));
    const [versions, durations, sizes, closure, check, smoke] = [
      'versions',
      'durations',
      'sizes',
      'closure',
      'check',
      'smoke',
    ].map(t);
    const mib = (b) => (b === undefined || b === '' ? '-' : (Number(b) / 1048576).toFixed(1));
    const rows = [
      ['package', 'version', 'build s', 'output MiB', 'files', 'closure MiB', 'reproducible', 'smoke'],
    ];
    for (const [label, [version]] of [...versions].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const [bytes, files] = sizes.get(label) ?? [];
      rows.push([
        label,
        version,
        durations.get(label)?.[0] ?? '-',
        mib(bytes),
        files ?? '-',
        mib(closure.get(label)?.[0]),
        check.get(label)?.[0] ?? '-',
        smoke.get(label)?.[0] ?? '-',
      ]);
    }
    const w = rows[0].map((_, i) => Math.max(...rows.map((x) => String(x[i]).length)));
    for (const row of rows)
      console.log(
        row
          .map((c, i) => String(c).padEnd(w[i]))
          .join('  ')
          .trimEnd(),
      );
    const n = versions.size;
    const built = [...versions.keys()].filter((l) => sizes.has(l)).length;
    const passed = [...smoke.values()].filter((v) => v[0] === 'pass').length;
    const checked = [...check.values()].filter((v) => v[0] === 'yes' || v[0] === 'no');
    const same = checked.filter((v) => v[0] === 'yes').length;
    console.log(
      `\n${built}/${n} built, ${passed}/${n} smoke tests pass, ${same}/${checked.length} checked bit-for-bit reproducible` +
        (checked.length ? ` (${((100 * same) / checked.length).toFixed(0)}%)` : ''),
    );
    for (const [label, [v, why]] of check)
      if (v !== 'yes' && why) console.log(`not reproducible\t${label}\t${why}`);
    for (const [label, [v, why]] of smoke)
      if (v !== 'pass') console.log(`smoke FAIL\t${label}\t${why ?? ''}`);
    break;
  }
  case 'unsatisfied': {
    const listed = new Map();
    const tsv = join(dirname(fileURLToPath(import.meta.url)), 'upstream-unsatisfied.tsv');
    for (const l of readFileSync(tsv, 'utf8').split('\n')) {
      if (l === '' || l.startsWith('#')) continue;
      const [label, by, what, why] = l.split('\t');
      if (label === arg) listed.set(`${by}\t${what}`, why);
    }
    const seen = new Set();
    for (const u of doc().unsatisfied ?? []) {
      const key = `${u.by}\t${u.interpreter ?? u.soname ?? ''}`;
      seen.add(key);
      console.log(`${listed.has(key) ? 'recorded' : 'open'}\t${u.kind}\t${key}`);
    }
    for (const key of listed.keys()) if (!seen.has(key)) console.log(`stale\t${key}`);
    break;
  }
  default:
    console.error(`events.mjs: unknown command ${cmd}`);
    process.exit(2);
}
