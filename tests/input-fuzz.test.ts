/**
 * The CLI's readers under hostile input (issue 15 items 11–12, the fuzzer classes of its "Done
 * when"): seeded generators of deep nesting (JSON and TOML nested 10^5 deep, mixed and random),
 * unbounded reads (`/dev/zero`, a FIFO no one writes, a FIFO written forever, a 1 GiB sparse file)
 * and huge paths, given through the real `eos` executable wherever it reads a signature, a trust
 * policy, a composition file, a lock, an atom manifest, a deployment or a stored blob. Every case
 * must end (no hang), exit 1 or 2 (never 70), print a located `[E..]` line and no stack trace
 * (no `RangeError`, no `    at ` frame), with every stderr line bounded (no path quoted whole).
 *
 * Found by this fuzzer's unbounded-read generators and fixed (each case below failed before):
 * `eos build FIFO` with no writer blocked in open() and ignored SIGTERM, and `eos lock --check`
 * over an eos.lock that is /dev/zero never ended (a lock must be a regular file of bounded size,
 * E19); `eos compose` and `eos deploy --signed` read their file unbounded (now E46 past 64 MiB),
 * and `eos deploy --signed HUGE-PATH` printed the 125 KB path whole in an `[E12] ENAMETOOLONG`
 * line (the bounded reader's error quotes it cut). A FIFO no one writes given to the other
 * readers blocked in open() as `cat` does (killed at 60 s here); every reader now opens its input
 * non-blocking (specs/cli.md, bounded inputs): E48 after the writer wait (the lock: E19 at once),
 * while a pipe with a writer, slow (`<(sleep 1; cat FILE)`) or endless (`<(yes)`, E46), is read
 * as before.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MESSAGE_MAX } from '../src/kernel/index.ts';
import { eosBin, tempDir } from './helpers/fs.ts';

/** A seeded generator (reproducible: a failure names its seed and case). */
function rng(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((x / 2 ** 31) * n);
  };
}

/** JSON nested `depth` deep; `kind` picks arrays, objects, or a random mix with bracket-holding strings. */
function deepJson(depth: number, kind: 'array' | 'object' | 'mixed', r: (n: number) => number): string {
  const open: string[] = [];
  const close: string[] = [];
  for (let i = 0; i < depth; i++) {
    const k = kind === 'array' ? 0 : kind === 'object' ? 1 : r(3);
    if (k === 0) {
      open.push('[');
      close.push(']');
    } else if (k === 1) {
      open.push('{"a":');
      close.push('}');
    } else {
      open.push('["[{\\"",');
      close.push(']');
    }
  }
  return open.join('') + '0' + close.reverse().join('');
}

/** TOML whose value nests `depth` deep under key `key`: arrays, inline tables or a mix. */
function deepToml(
  depth: number,
  kind: 'array' | 'table' | 'mixed',
  r: (n: number) => number,
  key = 'x',
): string {
  const open: string[] = [];
  const close: string[] = [];
  for (let i = 0; i < depth; i++) {
    const k = kind === 'array' ? 0 : kind === 'table' ? 1 : r(2);
    if (k === 0) {
      open.push('[');
      close.push(']');
    } else {
      open.push('{a=');
      close.push('}');
    }
  }
  return `${key} = ${open.join('')}1${close.reverse().join('')}\n`;
}

interface Outcome {
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
  timedOut: boolean;
}

/** Runs eos; a run that does not end in 60 s is killed and reported as timed out. */
function eosRun(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Outcome> {
  return spawnRun(process.execPath, [eosBin, ...args], env, cwd);
}

/**
 * Runs `bash -c SCRIPT` where `$EOS` is the eos command line (for process substitution,
 * `<(…)`), with the same 60 s kill as {@link eosRun}.
 */
function bashRun(script: string, env: NodeJS.ProcessEnv, cwd: string): Promise<Outcome> {
  return spawnRun('bash', ['-c', script], { ...env, EOS: `${process.execPath} ${eosBin}` }, cwd);
}

function spawnRun(cmd: string, argv: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(cmd, argv, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: the kill reaches a process-substitution writer too.
      detached: true,
    });
    let stderr = '';
    let stdout = '';
    let timedOut = false;
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    const t = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, 60_000);
    child.on('close', (status, signal) => {
      clearTimeout(t);
      resolve({ status, signal, stderr, stdout, timedOut });
    });
  });
}

/** Runs `fn` over `items`, two at a time (the machine is shared). */
async function pool<T, U>(items: T[], fn: (t: T) => Promise<U>): Promise<U[]> {
  const out: U[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all([worker(), worker()]);
  return out;
}

/** The checks every hostile case must pass; returns the failures as text. */
function judge(name: string, o: Outcome, code?: RegExp): string[] {
  const bad: string[] = [];
  if (o.timedOut) bad.push(`${name}: did not end in 60 s`);
  else if (o.status !== 1 && o.status !== 2) bad.push(`${name}: exit ${o.status} (signal ${o.signal})`);
  if (/RangeError|Maximum call stack|\n\s+at \S/.test(o.stderr)) bad.push(`${name}: stack trace`);
  if (!/^eos: \[E\d+\] /m.test(o.stderr)) bad.push(`${name}: no located error line`);
  else if (code && !code.test(o.stderr)) bad.push(`${name}: expected ${code}, got ${o.stderr.slice(0, 300)}`);
  for (const l of o.stderr.split('\n'))
    if (l.length > MESSAGE_MAX + 200) bad.push(`${name}: a ${l.length}-character stderr line`);
  return bad.map((b) => `${b}\n    ${o.stderr.slice(0, 400).replace(/\n/g, '\n    ')}`);
}

const DIGEST = `blake3:${'0'.repeat(64)}`;
let base = '';
let config = '';
let store = '';

/** A reader of a named file: how eos is made to read FILE as that kind of input. */
interface Reader {
  name: string;
  /** The argv (and working directory) that reads `file`. */
  args(file: string): { args: string[]; cwd?: string };
  /** The text format it parses. */
  format: 'json' | 'toml';
  /**
   * Its bound is 1 GiB (a composefs dump or image): given `/dev/zero` once, not every endless
   * input (each would read a whole GiB).
   */
  gib?: true;
}

function atomDirWith(file: string): string {
  // build-atom reads DIR/atom.toml: a directory per case whose atom.toml is a symlink to FILE.
  const d = tempDir('eos-fuzz-atom-');
  spawnSync('ln', ['-s', file, join(d, 'atom.toml')]);
  return d;
}

let plainAtomDir = '';
/** An atom that reads as far as its seed lock: a manifest, its directory as the source. */
function plainAtom(): string {
  if (plainAtomDir) return plainAtomDir;
  plainAtomDir = tempDir('eos-fuzz-plain-atom-');
  writeFileSync(
    join(plainAtomDir, 'atom.toml'),
    '[atom]\nlabel = "plain"\nversion = "1.0.0"\n\n[build]\nrecipe = "std.make"\n',
  );
  writeFileSync(join(plainAtomDir, 'Makefile'), 'all:\n');
  return plainAtomDir;
}

function workspaceWithLock(file: string): string {
  const d = tempDir('eos-fuzz-ws-');
  spawnSync('ln', ['-s', file, join(d, 'eos.lock')]);
  return d;
}

const READERS: Reader[] = [
  {
    name: 'signature',
    format: 'json',
    args: (f) => ({ args: ['verify-signature', DIGEST, f, '--for', 'atoms'] }),
  },
  { name: 'composition file', format: 'toml', args: (f) => ({ args: ['--store', store, 'compose', f] }) },
  {
    name: 'lock (eos build)',
    format: 'toml',
    args: (f) => ({ args: ['--store', store, 'build', f, '--seed-lock', join(base, 'none.lock')] }),
  },
  {
    name: 'lock (eos lock --check)',
    format: 'toml',
    args: (f) => ({ args: ['--store', store, 'lock', '--check'], cwd: workspaceWithLock(f) }),
  },
  {
    name: 'atom manifest',
    format: 'toml',
    args: (f) => ({ args: ['--store', store, 'build-atom', atomDirWith(f)] }),
  },
  {
    name: 'seed lock (eos build-atom --seed-lock)',
    format: 'json',
    args: (f) => ({ args: ['--store', store, 'build-atom', plainAtom(), '--seed-lock', f] }),
  },
  {
    name: 'stack file (eos stack check)',
    format: 'toml',
    args: (f) => ({ args: ['--store', store, 'stack', 'check', f] }),
  },
  {
    name: 'composefs dump (eos image --from-dump)',
    format: 'toml',
    gib: true,
    args: (f) => ({ args: ['image', '--from-dump', f, '-o', join(base, 'from-dump.cfs')] }),
  },
  {
    name: 'composefs image (eos image --dump)',
    format: 'json',
    gib: true,
    args: (f) => ({ args: ['image', '--dump', f] }),
  },
  {
    name: 'public key (eos key import)',
    format: 'toml',
    args: (f) => ({ args: ['key', 'import', f] }),
  },
  {
    name: 'signed deployment',
    format: 'json',
    args: (f) => ({ args: ['--store', store, 'deploy', '--signed', f, '--target', join(base, 'host')] }),
  },
];

beforeAll(() => {
  base = tempDir('eos-input-fuzz-');
  config = join(base, 'config');
  store = join(base, 'store');
  mkdirSync(config);
});

const env = () => ({ EOS_CONFIG_DIR: config, EOS_STORE: store });

describe('deep nesting through the CLI (10^5 levels, seeded)', () => {
  it('every reader of a named file: E47 or its own format error, exit 1/2, no RangeError', async () => {
    const r = rng(1515);
    const cases: { name: string; file: string; reader: Reader }[] = [];
    for (const reader of READERS) {
      const kinds =
        reader.format === 'json'
          ? (['array', 'object', 'mixed'] as const)
          : (['array', 'table', 'mixed'] as const);
      for (const kind of kinds) {
        const depth = kind === 'mixed' ? 1 + r(200_000) : 100_000;
        const text =
          reader.format === 'json'
            ? deepJson(depth, kind as 'array', r)
            : deepToml(depth, kind as 'array', r, reader.name === 'atom manifest' ? 'atom' : 'x');
        const file = join(base, `deep-${cases.length}.${reader.format}`);
        writeFileSync(file, text);
        cases.push({ name: `${reader.name}, ${kind} ×${depth}`, file, reader });
      }
    }
    const outcomes = await pool(cases, (c) => {
      const { args, cwd } = c.reader.args(c.file);
      return eosRun(args, env(), cwd ?? base);
    });
    const bad = cases.flatMap((c, i) => judge(c.name, outcomes[i]!));
    expect(bad, bad.join('\n')).toEqual([]);
    console.log(`deep nesting: ${cases.length} CLI cases, all named errors`);
  }, 600_000);

  it('a stored blob nested 10^5 deep given to compose show, store ls, image and run: named, never a crash', async () => {
    const r = rng(77);
    const cases: { name: string; args: string[] }[] = [];
    for (const kind of ['array', 'object', 'mixed'] as const) {
      const file = join(base, `blob-${kind}.json`);
      writeFileSync(file, deepJson(kind === 'mixed' ? 100_000 + r(100_000) : 100_000, kind, r));
      const add = spawnSync(process.execPath, [eosBin, '--store', store, 'store', 'add', file], {
        encoding: 'utf8',
      });
      expect(add.status, add.stderr).toBe(0);
      const digest = /blake3:[0-9a-f]{64}/.exec(add.stdout)![0];
      for (const args of [
        ['compose', 'show', digest],
        ['store', 'ls', digest],
        ['image', digest, '-o', join(base, `img-${kind}.cfs`)],
        ['run', digest, '--', '/bin/true'],
      ])
        cases.push({ name: `${args.slice(0, 2).join(' ')} (${kind})`, args: ['--store', store, ...args] });
    }
    const outcomes = await pool(cases, (c) => eosRun(c.args, env(), base));
    const bad = cases.flatMap((c, i) => judge(c.name, outcomes[i]!));
    expect(bad, bad.join('\n')).toEqual([]);
    console.log(`deep blobs: ${cases.length} CLI cases, all named errors`);
  }, 600_000);
});

describe('unbounded inputs through the CLI', () => {
  it('/dev/zero, a 1 GiB sparse file and a 120 KB path and a FIFO no one writes to every reader: named, bounded, never a hang', async () => {
    const sparse = join(base, 'sparse-1g');
    writeFileSync(sparse, '');
    truncateSync(sparse, 1 << 30);
    const fifo = join(base, 'silent.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const cases: { name: string; file: string; reader: Reader; code?: RegExp }[] = [];
    for (const reader of READERS.filter((r) => !r.gib))
      for (const [what, file] of [
        ['/dev/zero', '/dev/zero'],
        ['1 GiB sparse file', sparse],
      ] as const)
        cases.push({ name: `${reader.name}, ${what}`, file, reader });
    const image = READERS.find((r) => r.name.startsWith('composefs image'))!;
    cases.push({ name: `${image.name}, /dev/zero`, file: '/dev/zero', reader: image, code: /\[E46\]/ });
    // A FIFO no one writes: opened non-blocking, so a named error after the writer wait (a lock,
    // which must be a regular file, at once), where open() used to block forever.
    for (const reader of READERS)
      cases.push({
        name: `${reader.name}, a FIFO no one writes`,
        file: fifo,
        reader,
        code: reader.name.startsWith('lock')
          ? /\[E19\] .*the lock is not a regular file/
          : /\[E48\] .*(silent\.fifo|atom\.toml): the .* is a FIFO or pipe that gave nothing/,
      });
    // A 120 KB path (ENAMETOOLONG): the error line quotes it bounded (the judge's line limit).
    const huge = join(base, Array.from({ length: 600 }, () => 'p'.repeat(200)).join('/'));
    for (const reader of READERS.filter(
      (x) => !['atom manifest', 'lock (eos lock --check)'].includes(x.name),
    ))
      cases.push({ name: `${reader.name}, a 120 KB path`, file: huge, reader });
    const outcomes = await pool(cases, (c) => {
      const { args, cwd } = c.reader.args(c.file);
      return eosRun(args, env(), cwd ?? base);
    });
    const bad = cases.flatMap((c, i) => judge(c.name, outcomes[i]!, c.code));
    expect(bad, bad.join('\n')).toEqual([]);
    console.log(`unbounded inputs: ${cases.length} CLI cases, all named errors`);
  }, 900_000);

  it('a pipe with a writer (`<(…)`, slow or endless): read whole as from a file, or E46 at the bound', async () => {
    // Keys of their own (a trusted signer, and a keyring to import into).
    const keys = join(base, 'pipe-config');
    const other = join(base, 'pipe-config-2');
    mkdirSync(keys);
    mkdirSync(other);
    const kenv = { EOS_CONFIG_DIR: keys, EOS_STORE: store };
    const eos = (args: string[]) =>
      spawnSync(process.execPath, [eosBin, ...args], { env: { ...process.env, ...kenv }, encoding: 'utf8' });
    for (const args of [
      ['key', 'generate', 'pipe'],
      ['key', 'trust', 'pipe', '--for', 'atoms'],
    ])
      expect(eos(args).status, args.join(' ')).toBe(0);
    const sig = join(base, 'pipe.sig');
    const signed = eos(['sign', DIGEST, '--key', 'pipe', '--for', 'atoms']);
    expect(signed.status, signed.stderr).toBe(0);
    writeFileSync(sig, signed.stdout);
    const pub = join(base, 'pipe.pub');
    writeFileSync(pub, eos(['key', 'export', 'pipe']).stdout);
    const tree = join(base, 'pipe-tree');
    mkdirSync(tree);
    writeFileSync(join(tree, 'hello'), 'hello\n');
    const toml = join(base, 'pipe.toml');
    writeFileSync(toml, `[entries.hello]\nat = "/"\npath = ${JSON.stringify(tree)}\n`);
    const fromFile = eos(['compose', toml]);
    expect(fromFile.status, fromFile.stderr).toBe(0);
    const root = fromFile.stdout.trim();
    expect(root).toMatch(/^blake3:[0-9a-f]{64}$/);

    // The writer sleeps first: eos meets EAGAIN (a writer, nothing yet) and waits for it.
    const slow = (f: string) => `<(sleep 1; cat ${JSON.stringify(f)})`;
    const cases: { name: string; script: string; env: NodeJS.ProcessEnv; ok: (o: Outcome) => string[] }[] = [
      {
        name: 'compose, a slow writer',
        script: `$EOS compose ${slow(toml)}`,
        env: kenv,
        ok: (o) => (o.status === 0 && o.stdout.trim() === root ? [] : [`want ${root}`]),
      },
      {
        name: 'verify-signature, a slow writer',
        script: `$EOS verify-signature ${DIGEST} ${slow(sig)} --for atoms`,
        env: kenv,
        ok: (o) => (o.status === 0 && o.stdout.startsWith(`ok\t${DIGEST}`) ? [] : ['want ok']),
      },
      {
        name: 'key import, a writer done before eos reads',
        script: `$EOS key import <(cat ${JSON.stringify(pub)})`,
        env: { EOS_CONFIG_DIR: other, EOS_STORE: store },
        ok: (o) => (o.status === 0 && /^pipe\tblake3:/.test(o.stdout) ? [] : ['want the imported key']),
      },
      {
        name: 'deploy --signed, a slow writer of the wrong object',
        script: `$EOS deploy --signed ${slow(sig)} --target ${JSON.stringify(join(base, 'host'))}`,
        env: kenv,
        // Read whole and parsed: the deployment's own format error, not E48.
        ok: (o) => judge('deploy', o, /\[E34\] \/dev\/fd\/\d+: /),
      },
      {
        name: 'lock (eos build), a pipe',
        script: `$EOS build ${slow(toml)} --seed-lock ${JSON.stringify(join(base, 'none.lock'))}`,
        env: kenv,
        ok: (o) => judge('lock', o, /\[E19\] .*the lock is not a regular file/),
      },
      ...READERS.filter((r) => !r.name.startsWith('lock') && !r.gib && r.name !== 'atom manifest').map(
        (r) => ({
          name: `${r.name}, an endless writer (yes)`,
          script: `$EOS ${r
            .args('FILE')
            .args.map((a) => (a === 'FILE' ? '<(yes)' : JSON.stringify(a)))
            .join(' ')}`,
          env: env(),
          ok: (o: Outcome) => judge(r.name, o, /\[E46\] \/dev\/fd\/\d+: .* is larger than \d+ bytes/),
        }),
      ),
    ];
    const outcomes = await pool(cases, (c) => bashRun(c.script, c.env, base));
    const bad = cases.flatMap((c, i) => {
      const o = outcomes[i]!;
      if (o.timedOut) return [`${c.name}: did not end in 60 s`];
      return c
        .ok(o)
        .map((b) => `${c.name}: ${b}; exit ${o.status}\n    ${o.stdout}${o.stderr.slice(0, 400)}`);
    });
    expect(bad, bad.join('\n')).toEqual([]);
    console.log(`pipes with writers: ${cases.length} CLI cases`);
  }, 600_000);
});
