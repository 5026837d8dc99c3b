/**
 * The deploying side of the protocol (I/O): offer a signed deployment, push only what the host
 * lacks (it names the missing children level by level), commit, and wait for the activation. A
 * dropped connection is retried: the host kept every verified object, so the retry sends only the
 * rest.
 *
 * @see specs/host.md §6
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import * as kernel from '../src/kernel/index.ts';
import { EosError, TransportError, type Digest, type Store } from '../src/kernel/index.ts';
import type { ActivationPlan, ActivationResult } from './activate.ts';
import { deploymentDigest, type SignedDeployment } from './deployment.ts';
import type { OfferVerdict } from './host.ts';
import { pushRoots, PROTOCOL_VERSION, type ObjectRef } from './serve.ts';
import type { Session, Transport } from './transport.ts';
import type { Header } from './wire.ts';

/** What a push sent, by kind. Units: objects and bytes of payload. */
export interface PushStats {
  compositions: number;
  trees: number;
  blobs: number;
  blobBytes: number;
  treeBytes: number;
  /** Every byte written to the connection (frames and payloads). */
  wireBytes: number;
  /** Round trips of the Merkle negotiation. */
  rounds: number;
  /** Connections opened (more than 1 after a resume). */
  connections: number;
}

/** What {@link deploy} did. */
export interface DeployReport {
  digest: Digest;
  verdict: OfferVerdict & { current: number | null; plan: ActivationPlan };
  pushed: PushStats;
  /** Objects the host lacked at the first query (dry run: what would be pushed first). */
  lacking: ObjectRef[];
  result: ActivationResult | null;
  dryRun: boolean;
}

const ERROR_CLASSES = new Map<string, typeof EosError>(
  Object.values(kernel)
    .filter((v): v is typeof EosError => typeof v === 'function' && v.prototype instanceof EosError)
    .map((c) => [c.code, c]),
);

/** Re-raises an error frame from the host as the same Eos error class (its message names the host). */
export function hostError(h: Header, where: string): EosError {
  const e = h.error as { code: string; message: string; data: Record<string, unknown>; hint: string | null };
  const Cls = ERROR_CLASSES.get(e.code) ?? TransportError;
  const detail = e.message.replace(/^\[E\d+\] /, '');
  return new Cls(`${where}: ${detail}`, { data: e.data ?? {}, ...(e.hint ? { hint: e.hint } : {}) });
}

async function expect(s: Session, t: string, where: string): Promise<Header> {
  const { header, payload } = await s.reader.frame();
  void payload;
  if (header.t === 'error') throw hostError(header, where);
  if (header.t !== t) throw new TransportError(`${where}: expected ${t}, got ${header.t}`);
  return header;
}

/** Opens a session and says hello. */
export async function connect(t: Transport): Promise<Session> {
  const s = await t.open();
  try {
    await s.writer.send({ t: 'hello', v: PROTOCOL_VERSION });
    const h = await expect(s, 'hello', t.url);
    if (h.v !== PROTOCOL_VERSION) throw new TransportError(`${t.url}: protocol version ${String(h.v)}`);
    return s;
  } catch (e) {
    await s.close().catch(() => undefined);
    if (e instanceof TransportError && t.kind === 'ssh' && s.exitCode() === 255)
      throw new TransportError(
        `${t.url}: ssh: ${s.stderr().trim().split('\n').slice(-3).join(' / ') || 'exit 255'}`,
        {
          data: { reason: 'ssh', stderr: s.stderr() },
          hint: 'check the host key in --known-hosts (ssh-keyscan it over a trusted path) and your identity',
        },
      );
    if (e instanceof TransportError && s.stderr().trim())
      throw new TransportError(`${t.url}: ${s.stderr().trim().split('\n').slice(-3).join(' / ')}`, {
        data: { reason: 'closed', stderr: s.stderr() },
      });
    throw e;
  }
}

async function sendObject(
  s: Session,
  store: Store,
  [k, d]: ObjectRef,
  st: PushStats,
  where: string,
): Promise<void> {
  if (k === 't') {
    let bytes: Buffer;
    try {
      bytes = readFileSync(store.treePath(d));
    } catch {
      throw new kernel.NotFoundError(
        `${where}: the host asks for tree ${d}, which is not in the local store`,
      );
    }
    st.trees++;
    st.treeBytes += bytes.length;
    await s.writer.send({ t: 'object', k, d }, bytes);
    return;
  }
  const p = store.blobPath(d);
  let size: number;
  try {
    size = statSync(p).size;
  } catch {
    throw new kernel.NotFoundError(`${where}: the host asks for blob ${d}, which is not in the local store`);
  }
  if (k === 'c') st.compositions++;
  else st.blobs++;
  st.blobBytes += size;
  await s.writer.send(
    { t: 'object', k, d },
    { bytes: size, chunks: createReadStream(p, { highWaterMark: 1 << 20 }) },
  );
}

/** Options of {@link deploy}. */
export interface DeployOptions {
  dryRun?: boolean;
  /** Connection attempts after a drop (default 3). */
  retries?: number;
  /** Called with each phase as it starts (`offer`, `push`, `commit`, `activate`, `done`). */
  onPhase?: (phase: string) => void;
}

/**
 * Deploys a signed deployment through a transport: offer (the host checks trust, sequence and
 * expiry before anything travels), push what is lacking, commit, wait for the activation.
 * @throws DeployRefusedError E35 when the host refuses; TransportError E36 when the connection
 *   cannot be made (host key refused) or keeps dropping; ActivationError E38 as reported
 * @see specs/host.md §6.2
 */
export async function deploy(
  t: Transport,
  store: Store,
  signed: SignedDeployment,
  opts: DeployOptions = {},
): Promise<DeployReport> {
  const st: PushStats = {
    compositions: 0,
    trees: 0,
    blobs: 0,
    blobBytes: 0,
    treeBytes: 0,
    wireBytes: 0,
    rounds: 0,
    connections: 0,
  };
  const digest = deploymentDigest(signed.deployment);
  const retries = opts.retries ?? 3;
  let lastErr: unknown;
  for (let attempt = 0; attempt <= retries; attempt++) {
    let s: Session | undefined;
    try {
      s = await connect(t);
      st.connections++;
      opts.onPhase?.('offer');
      await s.writer.send({ t: 'offer', signed, dryRun: Boolean(opts.dryRun) } as unknown as Header);
      const verdict = (await expect(s, 'offer-ok', t.url)) as unknown as DeployReport['verdict'];
      const roots = pushRoots(signed);
      await s.writer.send({ t: 'query', objects: roots });
      let lacks = (await expect(s, 'lacks', t.url)).objects as ObjectRef[];
      const first = lacks;
      if (opts.dryRun) {
        await s.close();
        return { digest, verdict, pushed: st, lacking: first, result: null, dryRun: true };
      }
      opts.onPhase?.('push');
      while (lacks.length) {
        st.rounds++;
        for (const ref of lacks) await sendObject(s, store, ref, st, t.url);
        await s.writer.send({ t: 'sync' });
        lacks = (await expect(s, 'lacks', t.url)).objects as ObjectRef[];
      }
      opts.onPhase?.('commit');
      await s.writer.send({ t: 'commit' });
      await expect(s, 'phase', t.url);
      opts.onPhase?.('activate');
      const done = await expect(s, 'done', t.url);
      st.wireBytes += s.writer.totalBytes;
      await s.close();
      opts.onPhase?.('done');
      return {
        digest,
        verdict,
        pushed: st,
        lacking: first,
        result: done.result as ActivationResult,
        dryRun: false,
      };
    } catch (e) {
      if (s) {
        st.wireBytes += s.writer.totalBytes;
        await s.close().catch(() => undefined);
      }
      const reason = (e as EosError).data?.reason;
      if (!(e instanceof TransportError) || reason === 'ssh' || attempt === retries) throw e;
      lastErr = e;
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
  }
  throw lastErr;
}

/** Lists a host's generations through a transport. */
export async function listGenerations(t: Transport): Promise<Header> {
  const s = await connect(t);
  try {
    await s.writer.send({ t: 'generations' });
    return await expect(s, 'generations', t.url);
  } finally {
    await s.close();
  }
}

/** Rolls a host back through a transport (to `to`, default the generation before the current). */
export async function rollbackVia(t: Transport, to?: number): Promise<Header> {
  const s = await connect(t);
  try {
    await s.writer.send({ t: 'rollback', to: to ?? null });
    return await expect(s, 'done', t.url);
  } finally {
    await s.close();
  }
}
