/**
 * A host (I/O): the layout under a host root, its lock, its generations and the `current` link
 * flipped by one rename(2), its trust checks, rollback, gc and verify. Every file is written as a
 * temporary file, fsynced and renamed, so a SIGKILL anywhere leaves the previous state whole.
 *
 * @see specs/host.md
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import {
  DeployRefusedError,
  HostError,
  Store,
  createDigester,
  digestHex,
  encodeCanonical,
  parseTree,
  readTrustContext,
  verifySignatures,
  takePidFile,
  writeFileAtomicSync,
  type Digest,
  type PidFileLock,
} from '../src/kernel/index.ts';
import { CompositionStore, imageCachePath, parseComposition, pinRootName } from '../composer/index.ts';
import {
  deploymentDigest,
  deploymentLabel,
  deploymentRoots,
  makeGeneration,
  parseGeneration,
  type Generation,
  type SignedDeployment,
} from './deployment.ts';

/** The host layout version (`eos-host.json`). @see specs/host.md §2 */
export const HOST_FORMAT_VERSION = 1;

/**
 * Writes bytes to `dest` atomically (the kernel's one atomic write: temp file beside it, fsync,
 * rename, directory fsync), creating the directory.
 * @throws IoError E12
 */
export function writeDurable(dest: string, bytes: Uint8Array | string, mode = 0o644): void {
  writeFileAtomicSync(dest, bytes, { mode, mkdir: true });
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A generation number as its file name: three digits at least (`007.json`). */
export function generationFile(n: number): string {
  return `${String(n).padStart(3, '0')}.json`;
}

/** The state of one channel: the highest sequence accepted and that deployment's digest. */
export interface ChannelState {
  channel: string;
  highest: number;
  digest: Digest;
}

/** The outcome of the host's checks on an offered deployment. */
export interface OfferVerdict {
  /** `new`: a generation will be made; `resume`: this very deployment was accepted before. */
  kind: 'new' | 'resume';
  digest: Digest;
  /** The generation number it has (resume) or will get (new). */
  generation: number;
  /** The key names that vouched for it. */
  signedBy: string[];
}

/** A host root and its parts. */
export class Host {
  readonly root: string;
  readonly store: Store;
  readonly cs: CompositionStore;

  constructor(root: string) {
    this.root = resolve(root);
    this.store = new Store(join(this.root, 'store'));
    this.cs = new CompositionStore(this.store);
  }

  /** A path under the host root. */
  path(...parts: string[]): string {
    return join(this.root, ...parts);
  }

  /** The host's own configuration directory (keys and trust policy): `<root>/config`. */
  get configDir(): string {
    return this.path('config');
  }

  /**
   * Creates the layout when absent; refuses another layout version.
   * @throws HostError E37
   */
  init(): void {
    const marker = this.path('eos-host.json');
    if (existsSync(marker)) {
      const v = JSON.parse(readFileSync(marker, 'utf8')) as { format?: string; version?: number };
      if (v.format !== 'eos-host' || v.version !== HOST_FORMAT_VERSION)
        throw new HostError(`${this.root}: host layout ${JSON.stringify(v)} is not eos-host version 1`);
    } else {
      mkdirSync(this.root, { recursive: true });
      writeDurable(marker, encodeCanonical({ format: 'eos-host', version: HOST_FORMAT_VERSION }));
    }
    for (const d of ['generations', 'channels', 'staging/trees', 'pins', 'run', 'logs', 'mnt', 'config'])
      mkdirSync(this.path(d), { recursive: true });
    this.store.ensureLayout();
  }

  // ---- the host lock (specs/host.md §2.2) ----

  /**
   * Takes the host lock `<root>/lock` (our pid, created exclusively; a dead owner's lock is stale
   * and replaced).
   * @throws HostError E37 when a live process holds it
   */
  lock(): PidFileLock {
    const taken = takePidFile(this.path('lock'), { ownPid: 'stale' });
    if ('lock' in taken) return taken.lock;
    if (taken.holder === null) throw new HostError(`${this.root}: cannot take the host lock`);
    throw new HostError(
      `${this.root}: the host is locked by process ${taken.holder} (a deploy, rollback or gc)`,
      {
        data: { pid: taken.holder },
        hint: 'wait for it to finish',
      },
    );
  }

  /** Waits until the lock is free, then takes it (for at most `timeoutMs`). */
  async lockWait(timeoutMs = 60_000): Promise<ReturnType<Host['lock']>> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      try {
        return this.lock();
      } catch (e) {
        if (!(e instanceof HostError) || Date.now() > until) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  // ---- generations (specs/host.md §3, §4) ----

  /** The generation numbers present, ascending. */
  generationNumbers(): number[] {
    const dir = this.path('generations');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => /^\d{3,}\.json$/.test(f))
      .map((f) => Number(f.slice(0, -5)))
      .sort((a, b) => a - b);
  }

  /**
   * Reads a generation record.
   * @throws HostError E37 when there is no such generation; DeploymentError E34 when it is malformed
   */
  readGeneration(n: number): Generation {
    const p = this.path('generations', generationFile(n));
    let bytes: Buffer;
    try {
      bytes = readFileSync(p);
    } catch {
      throw new HostError(`${this.root}: no generation ${n}`, { data: { generation: n } });
    }
    const g = parseGeneration(bytes, `generations/${generationFile(n)}`);
    if (g.generation !== n)
      throw new HostError(`generations/${generationFile(n)} records generation ${g.generation}`);
    return g;
  }

  /** The current generation's number, or undefined before the first deploy. */
  currentNumber(): number | undefined {
    let target: string;
    try {
      target = readlinkSync(this.path('current'));
    } catch {
      return undefined;
    }
    const m = /^generations\/(\d{3,})\.json$/.exec(target);
    if (!m) throw new HostError(`${this.root}/current points at ${target}, not a generation`);
    return Number(m[1]);
  }

  /**
   * Makes generation `n` current: a symlink `current.tmp-…` → `generations/NNN.json`, renamed over
   * `current` (one rename(2)), then the directory fsynced.
   * @throws HostError E37 when the generation file is absent
   */
  flip(n: number): void {
    const target = `generations/${generationFile(n)}`;
    if (!existsSync(this.path(target))) throw new HostError(`${this.root}: no generation ${n}`);
    const tmp = this.path(`.current.${process.pid}.${randomBytes(4).toString('hex')}`);
    symlinkSync(target, tmp);
    renameSync(tmp, this.path('current'));
    fsyncDir(this.root);
  }

  /** Writes generation `n` for a signed deployment (atomic) and records the channel's highest sequence. */
  writeGeneration(n: number, s: SignedDeployment, nowSeconds: number): Generation {
    const g = makeGeneration(n, s, nowSeconds);
    writeDurable(this.path('generations', generationFile(n)), encodeCanonical(g));
    const ch = this.channel(s.deployment.channel);
    if (!ch || s.deployment.sequence > ch.highest)
      writeDurable(
        this.path('channels', `${s.deployment.channel}.json`),
        encodeCanonical({ channel: s.deployment.channel, highest: s.deployment.sequence, digest: g.digest }),
      );
    return g;
  }

  /** The channel's state, or undefined when nothing was accepted on it. */
  channel(name: string): ChannelState | undefined {
    try {
      return JSON.parse(readFileSync(this.path('channels', `${name}.json`), 'utf8')) as ChannelState;
    } catch {
      return undefined;
    }
  }

  /** The generation holding the deployment with this digest, if any. */
  generationOf(digest: Digest): number | undefined {
    for (const n of this.generationNumbers().reverse()) {
      try {
        if (this.readGeneration(n).digest === digest) return n;
      } catch {
        // a malformed generation is verify's business
      }
    }
    return undefined;
  }

  /**
   * The host's checks on an offered deployment, before any object travels: at least one signature
   * by a key the host trusts for `deploy` and none bad, not expired, and a sequence above the
   * highest accepted on its channel (or exactly this deployment again: a resumed deploy).
   * @throws DeployRefusedError E35 with `data.reason` `signature`, `untrusted`, `expired` or `sequence`
   * @see specs/host.md §5
   */
  async checkOffer(s: SignedDeployment, nowSeconds: number): Promise<OfferVerdict> {
    const d = s.deployment;
    const digest = deploymentDigest(d);
    const label = deploymentLabel(d);
    const { keyring, policy } = await readTrustContext(this.configDir);
    const r = verifySignatures(s.signatures, digest, 'deploy', keyring, policy);
    const refuse = (reason: string, detail: string, hint?: string): never => {
      throw new DeployRefusedError(`deployment ${label}: ${detail}`, {
        data: { reason, digest, stack: d.stack, channel: d.channel, sequence: d.sequence },
        ...(hint ? { hint } : {}),
      });
    };
    const untrusted = (x: { error: { data: unknown } }) =>
      ['untrusted', 'unknown-key'].includes((x.error.data as { reason?: string }).reason ?? '');
    const bad = r.rejected.find((x) => !untrusted(x));
    if (bad) refuse('signature', bad.error.detail);
    if (r.accepted.length === 0)
      refuse(
        'untrusted',
        r.rejected.length ? r.rejected[0]!.error.detail : 'carries no signature',
        `trust the deploying key on the host: EOS_CONFIG_DIR=${this.configDir} eos key trust NAME --for deploy`,
      );
    if (d.expiresAt <= nowSeconds)
      refuse(
        'expired',
        `expired at ${new Date(d.expiresAt * 1000).toISOString()} (host time ${new Date(nowSeconds * 1000).toISOString()})`,
      );
    const ch = this.channel(d.channel);
    const signedBy = r.accepted.map((a) => a.keyName);
    if (ch && d.sequence <= ch.highest) {
      // Only the newest accepted deployment may be offered again (a resumed push); any other is a
      // replay of an older one, the rollback attack, even when the host still has its generation.
      const existing =
        d.sequence === ch.highest && digest === ch.digest ? this.generationOf(digest) : undefined;
      if (existing !== undefined) return { kind: 'resume', digest, generation: existing, signedBy };
      refuse(
        'sequence',
        `sequence ${d.sequence} is not above ${ch.highest}, the highest accepted for channel ${d.channel}`,
        'an older or replayed deployment; deploy a new one (eos deploy bumps the sequence)',
      );
    }
    const pending = this.readPending();
    if (pending && deploymentDigest(pending.signed.deployment) === digest)
      return { kind: 'resume', digest, generation: pending.generation, signedBy };
    const nums = this.generationNumbers();
    const next = Math.max(nums.length ? nums[nums.length - 1]! : 0, pending?.generation ?? 0) + 1;
    return { kind: 'new', digest, generation: next, signedBy };
  }

  // ---- pending activation (specs/host.md §4.2) ----

  /** The deployment being made live (`pending.json`), or undefined. */
  readPending(): { generation: number; signed: SignedDeployment } | undefined {
    try {
      return JSON.parse(readFileSync(this.path('pending.json'), 'utf8')) as {
        generation: number;
        signed: SignedDeployment;
      };
    } catch {
      return undefined;
    }
  }

  /** Records the deployment about to be made live (a gc root until it is a generation). */
  writePending(generation: number, signed: SignedDeployment): void {
    writeDurable(this.path('pending.json'), encodeCanonical({ generation, signed }));
  }

  /** Removes `pending.json`. */
  clearPending(): void {
    rmSync(this.path('pending.json'), { force: true });
    fsyncDir(this.root);
  }

  // ---- objects (specs/host.md §6.3) ----

  /** True when the composition's blob and every entry's node are stored (trees are complete by the store's rule). */
  async hasComposition(root: Digest): Promise<boolean> {
    if (!(await this.store.hasBlob(root))) return false;
    const c = parseComposition(await this.store.readBlob(root), `composition ${root}`);
    for (const e of Object.values(c.entries)) {
      if (e.node.kind === 'tree' && !(await this.store.hasTree(e.node.digest))) return false;
      if (e.node.kind === 'file' && !(await this.store.hasBlob(e.node.digest))) return false;
    }
    return true;
  }

  /**
   * Checks that every object a generation pins is stored (not re-hashed: that is {@link verify});
   * what rollback checks before its rename. Cost: one stat per composition entry.
   * @throws HostError E37 naming the first missing object
   */
  async checkPresent(g: Generation): Promise<void> {
    const { compositions, blobs } = deploymentRoots(g.deployment);
    for (const c of compositions)
      if (!(await this.hasComposition(c)))
        throw new HostError(`generation ${g.generation}: composition ${c} is not complete in the host store`);
    for (const b of blobs)
      if (!(await this.store.hasBlob(b)))
        throw new HostError(`generation ${g.generation}: blob ${b} is not in the host store`);
  }

  /** The digests a set of generations pins: composition blobs, their entries' nodes, units and files. */
  async pinnedDigests(gens: Generation[]): Promise<Digest[]> {
    const out = new Set<Digest>();
    for (const g of gens) {
      const { compositions, blobs } = deploymentRoots(g.deployment);
      for (const b of blobs) out.add(b);
      for (const c of compositions) {
        out.add(c);
        if (!(await this.store.hasBlob(c))) continue;
        const comp = parseComposition(await this.store.readBlob(c), `composition ${c}`);
        for (const e of Object.values(comp.entries)) if (e.node.kind !== 'symlink') out.add(e.node.digest);
      }
    }
    return [...out];
  }

  /** The generations that are gc roots: the last `keep`, the current one, and the pinned ones. */
  keptGenerations(keep: number): number[] {
    const nums = this.generationNumbers();
    const kept = new Set(nums.slice(Math.max(0, nums.length - keep)));
    const cur = this.currentNumber();
    if (cur !== undefined) kept.add(cur);
    for (const p of existsSync(this.path('pins')) ? readdirSync(this.path('pins')) : [])
      if (/^\d+$/.test(p)) kept.add(Number(p));
    return [...kept].filter((n) => nums.includes(n)).sort((a, b) => a - b);
  }

  /** Pins generation `n` (gc never removes it). @throws HostError E37 for an unknown generation */
  pin(n: number): void {
    this.readGeneration(n);
    writeDurable(this.path('pins', String(n)), `${n}\n`);
  }

  /** Removes a pin. */
  unpin(n: number): void {
    rmSync(this.path('pins', String(n)), { force: true });
  }

  /**
   * Host gc: removes generations other than the kept ones (the last `keep`, the current, pinned
   * and pending ones), then the store objects, images and staged trees no kept generation reaches
   * (marking through the Merkle trees from the pinned digests).
   * @throws HostError E37 when the host is locked
   * @see specs/host.md §7
   */
  async gc(
    keep: number,
    graceSeconds = 3600,
  ): Promise<{
    removedGenerations: number[];
    kept: number[];
    blobsRemoved: number;
    treesRemoved: number;
    imagesRemoved: number;
    bytesFreed: number;
  }> {
    const lock = this.lock();
    try {
      const kept = this.keptGenerations(keep);
      const removed = this.generationNumbers().filter((n) => !kept.includes(n));
      for (const n of removed) rmSync(this.path('generations', generationFile(n)), { force: true });
      const gens = kept.map((n) => this.readGeneration(n));
      const pending = this.readPending();
      const roots = await this.pinnedDigests(gens);
      if (pending) {
        const p = makeGeneration(pending.generation, pending.signed, 0);
        roots.push(...(await this.pinnedDigests([p])));
      }
      // Pins of compositions no kept generation names go first, or they would keep them alive.
      const keptWorlds = new Set(
        [...gens, ...(pending ? [makeGeneration(pending.generation, pending.signed, 0)] : [])].flatMap((g) =>
          Object.values(g.deployment.services).map((s) => pinRootName(s.world)),
        ),
      );
      for (const r of await this.store.listRoots())
        if (r.name.startsWith('composition-') && !keptWorlds.has(r.name)) await this.store.removeRoot(r.name);
      // Staged trees of an interrupted push are dropped: they are sent again.
      rmSync(this.path('staging'), { recursive: true, force: true });
      mkdirSync(this.path('staging', 'trees'), { recursive: true });
      const r = await this.store.gc({ roots, graceSeconds });
      const worlds = new Set(
        [...gens, ...(pending ? [makeGeneration(pending.generation, pending.signed, 0)] : [])].flatMap((g) =>
          Object.values(g.deployment.services).map((s) => digestHex(s.world)),
        ),
      );
      let imagesRemoved = 0;
      const images = this.cs.dir('images');
      for (const f of existsSync(images) ? readdirSync(images) : []) {
        const m = /^([0-9a-f]{64})\.cfs$/.exec(f);
        if (m && !worlds.has(m[1]!)) {
          rmSync(join(images, f), { force: true });
          imagesRemoved++;
        }
      }
      return {
        removedGenerations: removed,
        kept,
        blobsRemoved: r.blobsRemoved,
        treesRemoved: r.treesRemoved,
        imagesRemoved,
        bytesFreed: r.bytesFreed,
      };
    } finally {
      lock.release();
    }
  }

  /**
   * Re-hashes every object of every kept generation (all generations present): each composition
   * blob, each tree through the whole Merkle closure, each file blob, unit and config file; and
   * checks `current` names a present generation.
   * @returns the problems found (empty when the host is sound) and the counts checked
   * @see specs/host.md §8
   */
  async verify(): Promise<{
    problems: string[];
    generations: number;
    blobs: number;
    trees: number;
    bytes: number;
  }> {
    const problems: string[] = [];
    const seenTrees = new Set<Digest>();
    const seenBlobs = new Set<Digest>();
    let bytes = 0;
    const blob = async (d: Digest, what: string) => {
      if (seenBlobs.has(d)) return;
      seenBlobs.add(d);
      const p = this.store.blobPath(d);
      try {
        const h = createDigester();
        const fd = openSync(p, 'r');
        try {
          const buf = Buffer.allocUnsafe(1 << 20);
          for (;;) {
            const n = readSync(fd, buf, 0, buf.length, null);
            if (n === 0) break;
            h.update(buf.subarray(0, n));
            bytes += n;
          }
        } finally {
          closeSync(fd);
        }
        const got = h.digest();
        if (got !== d) problems.push(`${what}: blob ${d} hashes to ${got}`);
      } catch (e) {
        problems.push(`${what}: blob ${d}: ${(e as Error).message}`);
      }
    };
    const tree = async (d: Digest, what: string): Promise<void> => {
      if (seenTrees.has(d)) return;
      seenTrees.add(d);
      let t;
      try {
        const b = readFileSync(this.store.treePath(d));
        const h = createDigester();
        h.update(b);
        const got = h.digest();
        if (got !== d) {
          problems.push(`${what}: tree ${d} hashes to ${got}`);
          return;
        }
        t = parseTree(b, `tree ${d}`);
      } catch (e) {
        problems.push(`${what}: tree ${d}: ${(e as Error).message}`);
        return;
      }
      for (const e of t.entries) {
        if (e.kind === 'file') await blob(e.digest, what);
        else if (e.kind === 'directory') await tree(e.digest, what);
      }
    };
    const nums = this.generationNumbers();
    const cur = this.currentNumber();
    if (cur !== undefined && !nums.includes(cur))
      problems.push(`current points at missing generation ${cur}`);
    for (const n of nums) {
      let g: Generation;
      try {
        g = this.readGeneration(n);
      } catch (e) {
        problems.push((e as Error).message);
        continue;
      }
      const what = `generation ${n}`;
      const { compositions, blobs } = deploymentRoots(g.deployment);
      for (const b of blobs) await blob(b, what);
      for (const c of compositions) {
        const before = problems.length;
        await blob(c, what);
        if (problems.length > before) continue;
        try {
          const comp = parseComposition(readFileSync(this.store.blobPath(c)), `composition ${c}`);
          for (const e of Object.values(comp.entries)) {
            if (e.node.kind === 'tree') await tree(e.node.digest, `${what}: composition ${c}`);
            else if (e.node.kind === 'file') await blob(e.node.digest, `${what}: composition ${c}`);
          }
        } catch (e) {
          problems.push(`${what}: composition ${c}: ${(e as Error).message}`);
        }
      }
    }
    return { problems, generations: nums.length, blobs: seenBlobs.size, trees: seenTrees.size, bytes };
  }

  /** Size in bytes of a file under the root, or 0. */
  sizeOf(p: string): number {
    try {
      return statSync(p).size;
    } catch {
      return 0;
    }
  }

  /** The composefs image path of a world in this host's store. */
  imagePath(world: Digest): string {
    return imageCachePath(this.cs, world);
  }
}
