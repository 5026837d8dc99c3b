/**
 * The host side of the protocol (`eos host serve`, I/O): one session over a byte stream pair
 * (stdin/stdout under SSH, a pipe locally). The host checks an offered deployment before any
 * object travels, names the objects it lacks level by level through the Merkle trees, re-hashes
 * every object it receives before renaming it into place, and hands the accepted deployment to a
 * detached activator (`eos host activate`, its own session) that writes the generation, flips
 * `current` and activates, so a dropped connection never stops an activation half way.
 *
 * @see specs/host.md §6 (protocol), §4 (activation steps)
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import {
  DeployRefusedError,
  EosError,
  HostError,
  TransportError,
  createDigester,
  digestBytes,
  digestHex,
  parseTree,
  pidAlive,
  type Digest,
  type Tree,
} from '../src/kernel/index.ts';
import { parseComposition } from '../composer/index.ts';
import {
  activateGeneration,
  backendFor,
  planActivation,
  prepareGeneration,
  type ActivationResult,
} from './activate.ts';
import { deploymentRoots, validateSignedDeployment, type SignedDeployment } from './deployment.ts';
import { generationFile, writeDurable, type Host, type OfferVerdict } from './host.ts';
import { FrameReader, FrameWriter, type Header } from './wire.ts';

/** The protocol version. @see specs/host.md §6 */
export const PROTOCOL_VERSION = 1;

/** Object kinds on the wire: `c` composition (a blob whose entries are children), `t` tree, `b` blob. */
export type ObjectKind = 'c' | 't' | 'b';
/** An object reference on the wire. */
export type ObjectRef = [ObjectKind, Digest];

/** Options of a serve session. */
export interface ServeOptions {
  /** argv prefix that runs `eos` here (for the detached activator). */
  eosCommand: string[];
  /** Clock, Unix seconds (tests). */
  now?: () => number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function errorJson(e: unknown): Record<string, unknown> {
  if (e instanceof EosError) return { code: e.code, message: e.message, data: e.data, hint: e.hint ?? null };
  return { code: 'E0', message: (e as Error)?.message ?? String(e), data: {}, hint: null };
}

/** Staged trees: received, verified, awaiting their children (specs/host.md §6.3). */
function stagedPath(host: Host, d: Digest): string {
  return host.path('staging', 'trees', digestHex(d));
}

function readStaged(host: Host, d: Digest): Tree | undefined {
  try {
    return parseTree(readFileSync(stagedPath(host, d)), `staged tree ${d}`);
  } catch {
    return undefined;
  }
}

/** The objects below `ref` the host lacks (not stored, not staged), one level below staged trees. */
async function lacking(
  host: Host,
  ref: ObjectRef,
  out: Map<Digest, ObjectKind>,
  seen: Set<Digest>,
): Promise<void> {
  const [k, d] = ref;
  if (seen.has(d)) return;
  seen.add(d);
  if (k === 'b') {
    if (!(await host.store.hasBlob(d))) out.set(d, 'b');
  } else if (k === 't') {
    if (await host.store.hasTree(d)) return;
    const t = readStaged(host, d);
    if (!t) {
      out.set(d, 't');
      return;
    }
    for (const e of t.entries) {
      if (e.kind === 'file') await lacking(host, ['b', e.digest], out, seen);
      else if (e.kind === 'directory') await lacking(host, ['t', e.digest], out, seen);
    }
  } else {
    if (!(await host.store.hasBlob(d))) {
      out.set(d, 'c');
      return;
    }
    const c = parseComposition(await host.store.readBlob(d), `composition ${d}`);
    for (const e of Object.values(c.entries)) {
      if (e.node.kind === 'tree') await lacking(host, ['t', e.node.digest], out, seen);
      else if (e.node.kind === 'file') await lacking(host, ['b', e.node.digest], out, seen);
    }
  }
}

/** Commits a staged tree and, first, its staged subtrees into the store (children before parents). */
async function commitTree(host: Host, d: Digest): Promise<void> {
  if (await host.store.hasTree(d)) return;
  const t = readStaged(host, d);
  if (!t)
    throw new TransportError(`push incomplete: tree ${d} was never received`, {
      data: { reason: 'incomplete' },
    });
  for (const e of t.entries) {
    if (e.kind === 'directory') await commitTree(host, e.digest);
    else if (e.kind === 'file' && !(await host.store.hasBlob(e.digest)))
      throw new TransportError(`push incomplete: blob ${e.digest} was never received`, {
        data: { reason: 'incomplete' },
      });
  }
  const got = await host.store.putTree(t);
  if (got !== d)
    throw new DeployRefusedError(`tree ${d} re-encodes to ${got}`, { data: { reason: 'object' } });
  rmSync(stagedPath(host, d), { force: true });
}

/** The roots a signed deployment asks to be pushed. */
export function pushRoots(s: SignedDeployment): ObjectRef[] {
  const { compositions, blobs } = deploymentRoots(s.deployment);
  return [...compositions.map((c): ObjectRef => ['c', c]), ...blobs.map((b): ObjectRef => ['b', b])];
}

/**
 * Serves one session on `input`/`output` until the client closes it.
 * @see specs/host.md §6.2 (messages)
 */
export async function serveHost(
  host: Host,
  input: Readable,
  output: Writable,
  opts: ServeOptions,
): Promise<void> {
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  const r = new FrameReader(input, 'client');
  const w = new FrameWriter(output);
  host.init();
  let lock: ReturnType<Host['lock']> | undefined;
  let offered: { signed: SignedDeployment; verdict: OfferVerdict } | undefined;
  let batch: ObjectRef[] = [];
  const objectError = (d: Digest, got: Digest): never => {
    throw new DeployRefusedError(`object ${d} hashes to ${got}: refused, nothing was stored`, {
      data: { reason: 'object', digest: d, got },
    });
  };
  try {
    for (;;) {
      if (await r.atEnd()) return;
      const { header, payloadBytes } = await r.header();
      try {
        switch (header.t) {
          case 'hello':
            await r.payload(payloadBytes);
            await w.send({ t: 'hello', v: PROTOCOL_VERSION, format: 'eos-host', root: host.root });
            break;
          case 'offer': {
            await r.payload(payloadBytes);
            const signed = validateSignedDeployment(header.signed, 'offered deployment');
            const verdict = await host.checkOffer(signed, now());
            if (!header.dryRun && !lock) lock = await host.lockWait();
            offered = { signed, verdict };
            const backend = backendFor(host, signed.deployment, opts.eosCommand);
            const plan = planActivation(backend.running(), signed.deployment);
            await w.send({ t: 'offer-ok', ...verdict, current: host.currentNumber() ?? null, plan });
            break;
          }
          case 'query': {
            await r.payload(payloadBytes);
            const out = new Map<Digest, ObjectKind>();
            const seen = new Set<Digest>();
            for (const ref of header.objects as ObjectRef[]) await lacking(host, ref, out, seen);
            await w.send({ t: 'lacks', objects: [...out].map(([d, k]) => [k, d]) });
            break;
          }
          case 'object': {
            if (!offered || !lock) throw new TransportError('object before an accepted offer');
            const k = header.k as ObjectKind;
            const d = header.d as Digest;
            if (k === 't') {
              const bytes = await r.payload(payloadBytes);
              const got = digestBytes(bytes);
              if (got !== d) objectError(d, got);
              parseTree(bytes, `tree ${d}`);
              writeDurable(stagedPath(host, d), bytes, 0o444);
            } else {
              await receiveBlob(host, r, d, payloadBytes, objectError);
              if (k === 'c') parseComposition(await host.store.readBlob(d), `composition ${d}`);
            }
            batch.push([k, d]);
            break;
          }
          case 'sync': {
            await r.payload(payloadBytes);
            const out = new Map<Digest, ObjectKind>();
            const seen = new Set<Digest>();
            for (const ref of batch) {
              seen.delete(ref[1]);
              await lacking(host, ref, out, seen);
            }
            batch = [];
            await w.send({ t: 'lacks', objects: [...out].map(([d, k]) => [k, d]) });
            break;
          }
          case 'commit': {
            await r.payload(payloadBytes);
            if (!offered || !lock) throw new TransportError('commit before an accepted offer');
            for (const [k, d] of pushRoots(offered.signed)) {
              if (k !== 'c') {
                if (!(await host.store.hasBlob(d)))
                  throw new TransportError(`push incomplete: blob ${d} was never received`);
                continue;
              }
              const c = parseComposition(await host.store.readBlob(d), `composition ${d}`);
              for (const e of Object.values(c.entries))
                if (e.node.kind === 'tree') await commitTree(host, e.node.digest);
              if (!(await host.hasComposition(d)))
                throw new TransportError(`push incomplete: composition ${d}`);
            }
            const n = offered.verdict.generation;
            if (!existsSync(host.path('generations', generationFile(n))))
              host.writePending(n, offered.signed);
            await w.send({ t: 'phase', phase: 'activate', generation: n });
            const pid = spawnActivator(host, opts.eosCommand, n);
            lock.handTo(pid);
            lock = undefined;
            const result = await awaitActivation(host, n, pid);
            await w.send({ t: 'done', generation: n, result });
            break;
          }
          case 'await': {
            await r.payload(payloadBytes);
            const n = header.generation as number;
            await w.send({ t: 'done', generation: n, result: await awaitActivation(host, n) });
            break;
          }
          case 'generations': {
            await r.payload(payloadBytes);
            const cur = host.currentNumber();
            await w.send({
              t: 'generations',
              current: cur ?? null,
              generations: host.generationNumbers().map((g) => {
                const gen = host.readGeneration(g);
                const d = gen.deployment;
                return {
                  generation: g,
                  stack: d.stack,
                  channel: d.channel,
                  sequence: d.sequence,
                  digest: gen.digest,
                  acceptedAt: gen.acceptedAt,
                };
              }),
            });
            break;
          }
          case 'rollback': {
            await r.payload(payloadBytes);
            const res = await rollbackHost(host, (header.to as number | null) ?? undefined, opts.eosCommand);
            await w.send({
              t: 'done',
              generation: res.generation,
              result: res.result,
              from: res.from,
              flipUs: Math.round(res.flipMs * 1000),
            });
            break;
          }
          default:
            throw new TransportError(`unknown message ${JSON.stringify(header.t)}`);
        }
      } catch (e) {
        if (e instanceof TransportError && (e.data as { reason?: string }).reason === 'closed') throw e;
        await w.send({ t: 'error', error: errorJson(e) });
        if (!(e instanceof EosError)) throw e;
        if (e instanceof DeployRefusedError) {
          offered = undefined;
          lock?.release();
          lock = undefined;
        }
      }
    }
  } finally {
    lock?.release();
  }
}

/** Receives a blob payload into the store: temp file in `tmp/`, hashed as it arrives, fsync, 0444, rename. */
async function receiveBlob(
  host: Host,
  r: FrameReader,
  d: Digest,
  size: number,
  mismatch: (d: Digest, got: Digest) => never,
): Promise<void> {
  const tmpDir = host.store.dir('tmp');
  mkdirSync(tmpDir, { recursive: true });
  const tmp = join(tmpDir, `${process.pid}.recv.${randomBytes(6).toString('hex')}`);
  const fd = openSync(tmp, 'wx', 0o644);
  const h = createDigester();
  try {
    await r.payloadChunks(size, (c) => {
      h.update(c);
      let off = 0;
      while (off < c.length) off += writeSync(fd, c, off, c.length - off);
    });
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  const got = h.digest();
  if (got !== d) {
    rmSync(tmp, { force: true });
    mismatch(d, got);
  }
  chmodSync(tmp, 0o444);
  const dest = host.store.blobPath(d);
  mkdirSync(dirname(dest), { recursive: true });
  renameSync(tmp, dest);
}

/** Starts the detached activator for generation `n` (its own session; output to `logs/activate.log`). */
export function spawnActivator(host: Host, eosCommand: string[], n: number): number {
  mkdirSync(host.path('logs'), { recursive: true });
  rmSync(host.path('activations', generationFile(n)), { force: true });
  const fd = openSync(host.path('logs', 'activate.log'), 'a');
  const child = spawn(
    eosCommand[0]!,
    [...eosCommand.slice(1), 'host', 'activate', '--root', host.root, '--generation', String(n)],
    { detached: true, stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new HostError('cannot start the activator');
  return child.pid;
}

/** Waits for `activations/NNN.json` (written by the activator), polling; fails if the activator died without it. */
export async function awaitActivation(host: Host, n: number, pid?: number): Promise<ActivationResult> {
  const p = host.path('activations', generationFile(n));
  for (let i = 0; ; i++) {
    if (existsSync(p)) return JSON.parse(readFileSync(p, 'utf8')) as ActivationResult;
    if (pid !== undefined && i > 10) {
      if (!pidAlive(pid) && !existsSync(p))
        throw new HostError(
          `the activator of generation ${n} ended without a result (log: ${host.path('logs', 'activate.log')})`,
        );
    }
    await sleep(i < 20 ? 20 : 100);
  }
}

/** Test hook: `EOS_FAULT_DELAY_MS` pauses the activator between its steps (the fault test widens its windows). */
async function faultDelay(): Promise<void> {
  const ms = Number(process.env.EOS_FAULT_DELAY_MS ?? 0);
  if (ms > 0) await sleep(ms);
}

/**
 * The activator (`eos host activate`): takes the host lock (handed over by serve, or free), writes
 * the pending generation, builds its images, flips `current`, activates, records the result and
 * removes `pending.json`. Every step is idempotent, so running it again after a kill completes it.
 * @see specs/host.md §4
 */
export async function runActivator(host: Host, n: number, eosCommand: string[]): Promise<ActivationResult> {
  const lock = await host.lockWait();
  try {
    const pending = host.readPending();
    if (pending && pending.generation === n && !existsSync(host.path('generations', generationFile(n)))) {
      await faultDelay();
      host.writeGeneration(n, pending.signed, Math.floor(Date.now() / 1000));
    }
    const g = host.readGeneration(n);
    await prepareGeneration(host, g);
    await faultDelay();
    if (host.currentNumber() !== n) host.flip(n);
    if (pending) host.clearPending();
    await faultDelay();
    return await activateGeneration(host, g, backendFor(host, g.deployment, eosCommand));
  } finally {
    lock.release();
  }
}

/**
 * Rollback: flips `current` to generation `to` (default: the newest one below the current) after
 * checking its objects are present, then activates it with a detached activator.
 * @throws HostError E37 when there is no such generation or nothing to roll back to
 * @see specs/host.md §4.3
 */
export async function rollbackHost(
  host: Host,
  to: number | undefined,
  eosCommand: string[],
  opts: { activate?: boolean } = {},
): Promise<{ from: number | null; generation: number; flipMs: number; result: ActivationResult | null }> {
  const lock = host.lock();
  let pid: number;
  let target: number;
  let from: number | undefined;
  let flipMs: number;
  try {
    from = host.currentNumber();
    const nums = host.generationNumbers();
    if (to === undefined) {
      const below = nums.filter((x) => from === undefined || x < from);
      if (!below.length)
        throw new HostError(`${host.root}: no generation before ${from ?? 'none'} to roll back to`);
      target = below[below.length - 1]!;
    } else target = to;
    const g = host.readGeneration(target);
    await host.checkPresent(g);
    const t0 = process.hrtime.bigint();
    host.flip(target);
    flipMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (opts.activate === false) {
      lock.release();
      return { from: from ?? null, generation: target, flipMs, result: null };
    }
    pid = spawnActivator(host, eosCommand, target);
    lock.handTo(pid);
  } catch (e) {
    lock.release();
    throw e;
  }
  const result = await awaitActivation(host, target, pid);
  return { from: from ?? null, generation: target, flipMs, result };
}

/** A header's type guard helper for clients. */
export function expectType(h: Header, t: string): void {
  if (h.t !== t) throw new TransportError(`expected ${t}, got ${h.t}`);
}
