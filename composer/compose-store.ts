/**
 * Compositions in the store (I/O): saving and loading them by root, their cached merged views,
 * their detached signatures, their images and their hard-link worlds. The pure parts (object,
 * merge, diff, authoring, image tree) live in their own files; this is the shell around them.
 *
 * Layout under the store directory (besides the store's own objects, trees and roots):
 * - `compositions/<root hex>.view.json`: the merged view (tree digest and shadowed paths)
 * - `compositions/<root hex>.sigs/<key id hex>.<purpose>.sig`: detached signatures
 * - `images/<root hex>.cfs`: the composefs image
 * - `private/verified.log`: the verified-object record, with fs-verity digests and cache bindings
 *   (src/kernel/store/verified.ts)
 * - `worlds/<root hex>/`: hard-link worlds
 *
 * @see specs/composition.md §10–§13
 */
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  CompositionError,
  NotFoundError,
  checkObjects,
  digestCanonical,
  digestBytes,
  objectsOfTree,
  subtreeSize,
  verifiedRecord,
  SignatureError,
  digestHex,
  encodeCanonical,
  encodeSignature,
  isDigest,
  isPurpose,
  makeTree,
  parseSignature,
  readKeyring,
  readTrustPolicy,
  signWithKey,
  encodeTree,
  verifySignatures,
  writeFileAtomic,
  writeFileAtomicSync,
  type Digest,
  type Purpose,
  type Signature,
  type Store,
  type Tree,
  type TreeEntry,
  type VerifiedSignature,
} from '../src/kernel/index.ts';
import type { AuthoredComposition } from './authoring.ts';
import {
  compositionRoot,
  encodeComposition,
  entryNames,
  makeComposition,
  nodeDigest,
  parseComposition,
  type Composition,
  type EntryNode,
} from './composition.ts';
import { mergeComposition, mergeOnto, type MergedView } from './merge.ts';
import type { TreeAccess, ViewTree } from './view-tree.ts';
import { worldMountPoints } from './world-runner.ts';

/** The store's trees as the composer sees them; writes go straight to the store. */
export function storeAccess(store: Store): TreeAccess {
  return {
    getTree: (d) => store.getTree(d),
    putTree: (t) => store.putTree(makeTree(t.entries)),
    blobSize: async (d) => {
      try {
        return statSync(store.blobPath(d)).size;
      } catch {
        throw new NotFoundError(`blob ${d} is not in the store ${store.root}`, { data: { digest: d } });
      }
    },
  };
}

/**
 * A {@link TreeAccess} that reads the store but keeps new trees in memory until {@link flush}, so
 * that a merge that fails writes nothing.
 */
export class PendingTrees implements TreeAccess {
  /** New trees by digest, with their canonical bytes (encoded once, for the digest and the file). */
  private readonly pending = new Map<Digest, { tree: Tree; bytes: Uint8Array }>();
  constructor(private readonly store: Store) {}
  async getTree(d: Digest): Promise<ViewTree> {
    return this.pending.get(d)?.tree ?? this.store.getTree(d);
  }
  async putTree(t: ViewTree): Promise<Digest> {
    const tree = makeTree(t.entries);
    const bytes = encodeTree(tree);
    const d = digestBytes(bytes);
    if (!this.pending.has(d)) this.pending.set(d, { tree, bytes });
    return d;
  }
  blobSize(d: Digest): Promise<number> {
    return storeAccess(this.store).blobSize(d);
  }
  /** Writes the new trees to the store, children first (the order they were made in). */
  async flush(): Promise<void> {
    // One durability step for all of them (Store.putObjects), not one fsync after another.
    const all = [...this.pending.values()];
    if (!all.length) return;
    await this.store.putObjects(
      [],
      all.map((t) => t.tree),
      all.map((t) => t.bytes),
    );
    this.pending.clear();
  }
}

/** Compositions kept in one store. */
export class CompositionStore {
  constructor(readonly store: Store) {}

  /** A path under the store directory. */
  dir(...parts: string[]): string {
    return join(this.store.root, ...parts);
  }

  /**
   * Turns an authored TOML composition into a composition: `path` sources are ingested into the
   * store (relative to `baseDir`; a symlink path is followed), nodes get exact constraints.
   * @throws CompositionError E18 located at the entry's line for a missing path or one that is
   *   neither a directory nor a regular file, or an invalid result (e.g. a file at `/`)
   */
  async resolveAuthored(a: AuthoredComposition, baseDir: string, file: string): Promise<Composition> {
    const entries: Record<string, unknown> = {};
    for (const e of a.entries) {
      let node: EntryNode;
      if (e.source.kind === 'node') node = e.source.node;
      else {
        const p = resolve(baseDir, e.source.path);
        let real: string;
        try {
          real = realpathSync(p);
        } catch {
          throw new CompositionError(`${file}:${e.line}: entries.${e.name}.path: ${p} does not exist`, {
            data: { file, line: e.line, name: e.name },
          });
        }
        const st = statSync(real);
        if (!st.isDirectory() && !st.isFile())
          throw new CompositionError(
            `${file}:${e.line}: entries.${e.name}.path: ${p} is neither a directory nor a regular file`,
            { data: { file, line: e.line, name: e.name } },
          );
        const r = await this.store.ingest(real);
        node = st.isDirectory()
          ? { kind: 'tree', digest: r.digest }
          : { kind: 'file', digest: r.digest, executable: (st.mode & 0o111) !== 0 };
      }
      entries[e.name] = { at: e.at, node, constraint: { kind: 'exact', digest: nodeDigest(node) } };
    }
    try {
      return makeComposition({ version: 1, entries, precedence: a.precedence }, file);
    } catch (err) {
      if (!(err instanceof CompositionError)) throw err;
      const name = (err.data as { name?: string }).name;
      const line = a.entries.find((x) => x.name === name)?.line ?? 1;
      throw new CompositionError(`${file}:${line}: ${err.detail}`, { data: { ...err.data, file, line } });
    }
  }

  /**
   * Checks every node is stored, computes the merged view (nothing is written if it conflicts),
   * then stores the composition's bytes as a blob, caches the view and pins the composition and
   * its entries' nodes under `roots/`.
   * @returns the root and the merged view
   * @throws CompositionError E18 for a merge conflict; NotFoundError E4 for a node not stored
   */
  async save(
    c: Composition,
    known?: { view: MergedView; pending: PendingTrees; like?: Digest },
  ): Promise<{ root: Digest; view: MergedView }> {
    // Pin entries of a composition this one is derived from (`like`): their nodes are pinned there.
    const kept = known?.like ? await this.pinEntries(known.like) : new Map<string, TreeEntry>();
    await this.checkNodesStored(c, kept);
    const pending = known?.pending ?? new PendingTrees(this.store);
    const view = known?.view ?? (await mergeComposition(c, pending));
    // The view's trees, the composition's bytes and the view cache do not depend on one another
    // (a cached view is used only while its tree is stored): written at once, their durability
    // waits overlap. The pin, which keeps them, comes after all three.
    const root = compositionRoot(c);
    const [, stored] = await Promise.all([
      pending.flush(),
      this.store.putBlob(encodeComposition(c)),
      this.writeView(root, view),
    ]);
    if (stored !== root) throw new Error(`unreachable: blob digest ${stored} is not the root`);
    // One pin, written last (atomically): a tree naming the composition and everything it keeps.
    const pin = await this.store.putTree(await this.pinTree(c, root, kept));
    await this.store.addRoot(pinRootName(root), pin);
    return { root, view };
  }

  /**
   * Stores a composition's bytes and pins it (as {@link save}) without merging its view, for a
   * caller that knows the merge has no conflict: a world whose layers are a union (`isUnionOnto`),
   * mounted layer by layer (specs/executor.md §2.2). Its view is merged, cached and checked on
   * first use ({@link view}), like that of a composition whose cached view was removed.
   * @param like a pinned composition sharing entries with this one (a world's seed): those entries'
   *   nodes are not looked up again, their pin entries are reused
   * @returns the root
   * @throws NotFoundError E4 for a node not stored
   */
  async saveUnmerged(c: Composition, like?: Digest): Promise<Digest> {
    const kept = like ? await this.pinEntries(like) : new Map<string, TreeEntry>();
    await this.checkNodesStored(c, kept);
    const root = compositionRoot(c);
    const stored = await this.store.putBlob(encodeComposition(c));
    if (stored !== root) throw new Error(`unreachable: blob digest ${stored} is not the root`);
    const pin = await this.store.putTree(await this.pinTree(c, root, kept));
    await this.store.addRoot(pinRootName(root), pin);
    return root;
  }

  /** @throws NotFoundError E4 naming the entry whose tree or blob is not stored (unless pinned in `kept`) */
  private async checkNodesStored(c: Composition, kept: ReadonlyMap<string, TreeEntry>): Promise<void> {
    for (const name of entryNames(c)) {
      const n = c.entries[name]!.node;
      const k = kept.get(`node.${name}`);
      if (n.kind !== 'symlink' && k && k.kind !== 'symlink' && k.digest === n.digest) continue;
      if (n.kind === 'tree' && !(await this.store.hasTree(n.digest)))
        throw new NotFoundError(`entry ${name}: tree ${n.digest} is not in the store ${this.store.root}`, {
          data: { name, digest: n.digest },
        });
      if (n.kind === 'file' && !(await this.store.hasBlob(n.digest)))
        throw new NotFoundError(`entry ${name}: blob ${n.digest} is not in the store ${this.store.root}`, {
          data: { name, digest: n.digest },
        });
    }
  }

  /**
   * Pins a composition whose blob and entry nodes are already stored but that was not saved here:
   * one a host received in a deployment (specs/host.md §4: the host pins the compositions of the
   * generations it keeps and drops the pins of those it removes). Idempotent; the pin is written
   * last, as by {@link save}.
   * @throws NotFoundError E4 when the blob or a node is not stored; CompositionError E18 /
   *   EncodingError E3 when the blob is not a composition
   */
  async pinStored(root: Digest): Promise<void> {
    if (await this.pinned(root)) return;
    if (!(await this.store.hasBlob(root)))
      throw new NotFoundError(`composition ${root} is not in the store ${this.store.root}`, {
        data: { digest: root },
      });
    const c = parseComposition(await this.store.readBlob(root), `composition ${root}`);
    const pin = await this.store.putTree(await this.pinTree(c, root));
    await this.store.addRoot(pinRootName(root), pin);
  }

  /**
   * Loads a composition by root.
   * @throws NotFoundError E4 when no composition with that root is stored
   * @throws CompositionError E18 / EncodingError E3 when the blob is not a composition
   */
  async load(root: Digest): Promise<Composition> {
    if (!(await this.store.hasBlob(root)) || !(await this.pinned(root)))
      throw new NotFoundError(`composition ${root} is not in the store ${this.store.root}`, {
        data: { digest: root },
        hint: (await this.store.hasBlob(root))
          ? 'its pin is missing (an interrupted `eos compose`?): store it again with `eos compose FILE`'
          : 'store it with `eos compose FILE`',
      });
    return parseComposition(await this.store.readBlob(root), `composition ${root}`);
  }

  /**
   * The pin tree of a composition (specs/composition.md §10): `composition` (the root blob), then
   * `node.<entry>` per entry whose node is a tree or blob, and `proof.<entry>` / `pinned.<entry>`
   * for every swapped entry's proof and pinned node.
   */
  private async pinTree(
    c: Composition,
    root: Digest,
    kept: ReadonlyMap<string, TreeEntry> = new Map(),
  ): Promise<Tree> {
    const entries: TreeEntry[] = [
      {
        name: 'composition',
        kind: 'file',
        digest: root,
        size: encodeComposition(c).length,
        executable: false,
      },
    ];
    const add = async (name: string, d: Digest): Promise<void> => {
      const k = kept.get(name);
      if (k && k.kind !== 'symlink' && k.digest === d) entries.push(k);
      else if (await this.store.hasTree(d))
        entries.push({ name, kind: 'directory', digest: d, size: subtreeSize(await this.store.getTree(d)) });
      else if (await this.store.hasBlob(d))
        entries.push({
          name,
          kind: 'file',
          digest: d,
          size: statSync(this.store.blobPath(d)).size,
          executable: false,
        });
      else
        throw new NotFoundError(`${name}: ${d} is not in the store ${this.store.root}`, {
          data: { digest: d },
        });
    };
    for (const name of entryNames(c)) {
      const e = c.entries[name]!;
      if (e.node.kind !== 'symlink') await add(`node.${name}`, e.node.digest);
      // A proof or pinned node that is not stored is not pinned: checkSwaps reports it (E30).
      if (e.constraint.kind !== 'exact') {
        if (await this.store.hasBlob(e.constraint.proof)) await add(`proof.${name}`, e.constraint.proof);
        const p = e.constraint.pinned;
        if ((await this.store.hasTree(p)) || (await this.store.hasBlob(p))) await add(`pinned.${name}`, p);
      }
    }
    return makeTree(entries);
  }

  /** The entries of `root`'s pin tree by name (empty when it has none: an old store, or no pin). */
  private async pinEntries(root: Digest): Promise<Map<string, TreeEntry>> {
    let d: string;
    try {
      d = readFileSync(join(this.store.dir('roots'), pinRootName(root)), 'utf8').trim();
    } catch {
      return new Map();
    }
    if (!isDigest(d) || d === root || !(await this.store.hasTree(d))) return new Map();
    const t = await this.store.getTree(d);
    if (!t.entries.some((e) => e.name === 'composition' && e.kind === 'file' && e.digest === root))
      return new Map();
    return new Map(t.entries.map((e) => [e.name, e]));
  }

  /**
   * The merged view of composition `c` (stored or not) built around entry `name`: the cached
   * merged view of its other entries (the *rest view*, the same for every composition that differs
   * from `c` only at `name`) merged with that entry ({@link mergeOnto}); the whole composition is
   * merged when no rest view is cached or the two-way merge cannot decide. New trees go to
   * `pending` (nothing is written here).
   * @param known a rest view computed by an earlier call with the same `pending` (used when its
   *   key is this one's)
   * @returns the view, and the rest view to keep with {@link keepRestView} once `pending` is flushed
   *   (null when it came from the cache)
   * @throws CompositionError E18 (a conflict); NotFoundError E4
   * @see specs/composition.md §10
   */
  async viewAround(
    c: Composition,
    name: string,
    pending: PendingTrees,
    known?: { key: Digest; view: MergedView } | null,
  ): Promise<{ view: MergedView; rest: { key: Digest; view: MergedView } | null }> {
    const e = c.entries[name];
    if (!e) throw new NotFoundError(`entry ${name} is not in the composition`, { data: { entry: name } });
    const key = restKey(c, name);
    const cached = await this.cachedRestView(key);
    if (!cached && known?.key === key) {
      // Computed a moment ago (in the same pending trees) for a composition of the same family.
      const view = (await mergeOnto(known.view, name, e, pending)) ?? (await mergeComposition(c, pending));
      return { view, rest: known };
    }
    let rest: MergedView;
    if (cached) rest = cached;
    else {
      const others = Object.fromEntries(Object.entries(c.entries).filter(([n]) => n !== name));
      try {
        rest = await mergeComposition({ entries: others, precedence: c.precedence }, pending);
      } catch (err) {
        // The others conflict, so the whole does too: merge it for its own (located) error.
        if (err instanceof CompositionError) return { view: await mergeComposition(c, pending), rest: null };
        throw err;
      }
    }
    let view: MergedView | undefined;
    try {
      view = await mergeOnto(rest, name, e, pending);
    } catch (err) {
      // A cached rest view whose trees were collected: merge the whole composition instead.
      if (!(err instanceof NotFoundError) || !cached) throw err;
    }
    view ??= await mergeComposition(c, pending);
    return { view, rest: cached ? null : { key, view: rest } };
  }

  private restViewPath(key: Digest): string {
    const hex = digestHex(key);
    return join(this.store.root, 'cache', 'rest-view', hex.slice(0, 2), hex.slice(2));
  }

  /**
   * Keeps a rest view computed by {@link viewAround} (its trees must be stored: flush the pending
   * trees first): `STORE/cache/rest-view/<key hex[0:2]>/<key hex[2:]>`, canonical JSON
   * `{"shadowed", "tree"}`, written atomically and bound in the verified-object record
   * (`rest:<key hex>`).
   */
  keepRestView(rest: { key: Digest; view: MergedView } | null): void {
    if (!rest) return;
    const bytes = encodeCanonical({ shadowed: rest.view.shadowed, tree: rest.view.tree });
    writeFileAtomicSync(this.restViewPath(rest.key), bytes, { mkdir: true });
    const record = verifiedRecord(this.store);
    record.noteBinding(`rest:${digestHex(rest.key)}`, digestHex(digestBytes(bytes)));
    record.flush();
  }

  /** A kept rest view when its bytes are the ones bound in the record and its tree is stored. */
  private async cachedRestView(key: Digest): Promise<MergedView | undefined> {
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.restViewPath(key));
    } catch {
      return undefined;
    }
    if (verifiedRecord(this.store).binding(`rest:${digestHex(key)}`) !== digestHex(digestBytes(bytes)))
      return undefined;
    try {
      const v = JSON.parse(bytes.toString('utf8')) as MergedView;
      if (isDigest(v.tree) && Array.isArray(v.shadowed) && (await this.store.hasTree(v.tree)))
        return { tree: v.tree, shadowed: v.shadowed };
    } catch {
      // unreadable: recompute
    }
    return undefined;
  }

  /**
   * Whether `root` is pinned: `roots/composition-<root hex>` names a pin tree whose `composition`
   * is `root` (or, in stores made before pin trees, `root` itself).
   */
  async pinned(root: Digest): Promise<boolean> {
    let d: string;
    try {
      d = readFileSync(join(this.store.dir('roots'), pinRootName(root)), 'utf8').trim();
    } catch {
      return false;
    }
    if (d === root) return true;
    if (!isDigest(d) || !(await this.store.hasTree(d))) return false;
    try {
      const t = await this.store.getTree(d);
      return t.entries.some((e) => e.name === 'composition' && e.kind === 'file' && e.digest === root);
    } catch {
      return false;
    }
  }

  private viewCachePath(root: Digest): string {
    return this.dir('compositions', `${digestHex(root)}.view.json`);
  }

  /**
   * Binds the view cache of `root` in the verified-object record (`view:<root hex>`), then writes
   * it. Binding first: a SIGKILL between the two leaves a binding with no file (nothing to check),
   * never a view file that `store verify` finds unbound (it did, before: issue 15 kill test).
   */
  private async writeView(root: Digest, v: MergedView): Promise<void> {
    const bytes = encodeCanonical({ shadowed: v.shadowed, tree: v.tree });
    const record = verifiedRecord(this.store);
    record.noteBinding(viewBinding(root), digestHex(digestBytes(bytes)));
    // Off the event loop (a build writes one view per world while other actions run).
    await record.flushAsync();
    await writeFileAtomic(this.viewCachePath(root), bytes, { mkdir: true });
  }

  /** Whether the view cache file of `root` hashes to the value bound to it in the verified-object record. */
  viewBound(root: Digest): boolean {
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.viewCachePath(root));
    } catch {
      return false;
    }
    return verifiedRecord(this.store).binding(viewBinding(root)) === digestHex(digestBytes(bytes));
  }

  /**
   * The cached view of `root` when it is the one this store wrote (its BLAKE3 matches the record's
   * binding) and its tree is still stored; undefined otherwise.
   */
  async cachedView(root: Digest): Promise<MergedView | undefined> {
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.viewCachePath(root));
    } catch {
      return undefined;
    }
    if (verifiedRecord(this.store).binding(viewBinding(root)) !== digestHex(digestBytes(bytes)))
      return undefined;
    try {
      const v = JSON.parse(bytes.toString('utf8')) as MergedView;
      if (isDigest(v.tree) && Array.isArray(v.shadowed) && (await this.store.hasTree(v.tree)))
        return { tree: v.tree, shadowed: v.shadowed };
    } catch {
      // unreadable: recompute
    }
    return undefined;
  }

  /**
   * The merged view of a stored composition, from the cache `compositions/<root hex>.view.json`
   * (canonical JSON `{shadowed, tree}`) when it is bound to the root in the verified-object record
   * and its tree is still stored, else recomputed and cached.
   * @throws NotFoundError E4; CompositionError E18 on a conflict
   */
  async view(root: Digest): Promise<MergedView & { cached: boolean }> {
    const hit = await this.cachedView(root);
    if (hit) return { ...hit, cached: true };
    const c = await this.load(root);
    const v = await mergeComposition(c, storeAccess(this.store));
    await this.writeView(root, v);
    return { ...v, cached: false };
  }

  private sigDir(root: Digest): string {
    return this.dir('compositions', `${digestHex(root)}.sigs`);
  }

  /**
   * Signs a stored composition's root with the secret key `keyName` for `purpose` and keeps the
   * signature beside it (replacing one by the same key and purpose).
   * @throws NotFoundError E4 for an unknown root; KeyError E9 for an unknown key
   */
  async sign(
    root: Digest,
    configDir: string,
    keyName: string,
    purpose: Purpose = 'compositions',
  ): Promise<Signature> {
    await this.load(root);
    const sig = await signWithKey(configDir, keyName, root, purpose);
    writeFileAtomicSync(
      join(this.sigDir(root), `${digestHex(sig.key)}.${purpose}.sig`),
      encodeSignature(sig),
      {
        mkdir: true,
      },
    );
    return sig;
  }

  /** The signature files kept beside a root, with their bytes, sorted by file name. */
  signatureFiles(root: Digest): { file: string; bytes: Uint8Array }[] {
    const dir = this.sigDir(root);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.endsWith('.sig'))
      .sort()
      .map((f) => ({ file: join(dir, f), bytes: readFileSync(join(dir, f)) }));
  }

  /**
   * Verifies every signature kept beside a root for `purpose`.
   * @returns the accepted and rejected signatures (each rejection with its E10 reason); `ok` when at
   *   least one is accepted and none is rejected for a reason other than another purpose
   */
  async verify(
    root: Digest,
    configDir: string,
    purpose: Purpose,
  ): Promise<{
    ok: boolean;
    accepted: VerifiedSignature[];
    rejected: { file: string; error: SignatureError }[];
  }> {
    await this.load(root);
    if (!isPurpose(purpose)) throw new SignatureError(`purpose ${JSON.stringify(purpose)} is not known`);
    const files = this.signatureFiles(root);
    const [keyring, policy] = await Promise.all([readKeyring(configDir), readTrustPolicy(configDir)]);
    const accepted: VerifiedSignature[] = [];
    const rejected: { file: string; error: SignatureError }[] = [];
    for (const f of files) {
      let sig: unknown;
      try {
        sig = parseSignature(f.bytes, f.file);
      } catch {
        sig = { malformed: f.file };
      }
      if ((sig as Signature).purpose !== undefined && (sig as Signature).purpose !== purpose) continue;
      const r = verifySignatures([sig], root, purpose, keyring, policy);
      accepted.push(...r.accepted);
      for (const x of r.rejected) rejected.push({ file: f.file, error: x.error });
    }
    return { ok: accepted.length > 0 && rejected.length === 0, accepted, rejected };
  }

  /**
   * The hard-link world of a stored composition: `worlds/<root hex>/`, materialized from the merged
   * view in a temporary directory (plus empty `proc`, `dev`, `tmp`, `work` mount points when absent)
   * and renamed into place; reused when present.
   * @returns the world directory and whether it existed
   * @see specs/composition.md §13
   */
  async world(root: Digest): Promise<{ dir: string; cached: boolean }> {
    const dir = this.dir('worlds', digestHex(root));
    const v = await this.view(root);
    if (existsSync(dir)) {
      const bad = await checkWorld(this.store, dir, v.tree);
      if (!bad) {
        await checkObjects(this.store, await objectsOfTree(this.store, v.tree));
        return { dir, cached: true };
      }
      // Not the world of this root (edited, or half-removed): drop it and build it again.
      const aside = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
      renameSync(dir, aside);
      rmSync(aside, { recursive: true, force: true });
    }
    const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    mkdirSync(dirname(dir), { recursive: true });
    try {
      await this.store.materialize(v.tree, tmp);
      for (const p of worldMountPoints(true)) if (!existsSync(join(tmp, p))) mkdirSync(join(tmp, p));
      renameSync(tmp, dir);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      if (existsSync(dir) && !(await checkWorld(this.store, dir, v.tree))) return { dir, cached: true }; // another process won the race
      throw e;
    }
    return { dir, cached: false };
  }
}

/**
 * The key of the rest view of `c` around entry `name`: the digest of the canonical JSON
 * `{"entries": {NAME: {"at", "node"}…}, "precedence": […]}` of every other entry (constraints
 * left out: the merge does not read them). @see specs/composition.md §10
 */
export function restKey(c: Composition, name: string): Digest {
  const entries: Record<string, { at: string; node: EntryNode }> = {};
  for (const n of entryNames(c))
    if (n !== name) entries[n] = { at: c.entries[n]!.at, node: c.entries[n]!.node };
  return digestCanonical({ entries, precedence: c.precedence });
}

/** The root that pins a composition: `composition-<root hex>` (specs/composition.md §10). */
export function pinRootName(root: Digest): string {
  return `composition-${digestHex(root)}`;
}

/** The record binding of a root's cached view: `view:<root hex>`. */
export function viewBinding(root: Digest): string {
  return `view:${digestHex(root)}`;
}

/**
 * Checks that a hard-link world directory is exactly the materialization of `view` (plus empty
 * mount points at its top): the same names and kinds, symlink targets, executable bits and sizes,
 * and every file the object's own inode (its twin's for executables) or, for a copy, bytes that
 * hash to its digest. Objects themselves are checked by `checkObjects`.
 * @returns undefined when it is, else the first difference (a path and what is wrong)
 * @see specs/composition.md §13
 */
export async function checkWorld(store: Store, dir: string, view: Digest): Promise<string | undefined> {
  const mountPoints = new Set(worldMountPoints(true));
  const walk = async (d: string, tree: Digest, top: boolean): Promise<string | undefined> => {
    const t = await store.getTree(tree);
    const names = new Set(t.entries.map((e) => e.name));
    let listed: string[];
    try {
      listed = readdirSync(d);
    } catch (e) {
      return `${d}: cannot be read (${(e as NodeJS.ErrnoException).code})`;
    }
    for (const n of listed) {
      if (names.has(n)) continue;
      const p = join(d, n);
      if (top && mountPoints.has(n) && lstatSync(p).isDirectory() && readdirSync(p).length === 0) continue;
      return `${p}: not in the view`;
    }
    for (const e of t.entries) {
      const p = join(d, e.name);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        return `${p}: missing`;
      }
      if (e.kind === 'directory') {
        if (!st.isDirectory()) return `${p}: not a directory`;
        const bad = await walk(p, e.digest, false);
        if (bad) return bad;
      } else if (e.kind === 'symlink') {
        if (!st.isSymbolicLink() || readlinkSync(p) !== e.target)
          return `${p}: not the symlink -> ${e.target}`;
      } else {
        if (!st.isFile() || st.size !== e.size) return `${p}: not a file of ${e.size} bytes`;
        if (((st.mode & 0o100) !== 0) !== e.executable) return `${p}: wrong executable bit`;
        if (e.size === 0) continue;
        const obj = e.executable ? store.twinPath(e.digest) : store.blobPath(e.digest);
        let same = false;
        try {
          const o = lstatSync(obj);
          same = o.dev === st.dev && o.ino === st.ino;
        } catch {
          same = false;
        }
        if (!same && digestBytes(readFileSync(p)) !== e.digest) return `${p}: bytes are not ${e.digest}`;
      }
    }
    return undefined;
  };
  return walk(dir, view, true);
}
