/**
 * Compositions in the store (I/O): saving and loading them by root, their cached merged views,
 * their detached signatures, their images and their hard-link worlds. The pure parts (object,
 * merge, diff, authoring, image tree) live in their own files; this is the shell around them.
 *
 * Layout under the store directory (besides the store's own objects, trees and roots):
 * - `compositions/<root hex>.view.json`: the merged view (tree digest and shadowed paths)
 * - `compositions/<root hex>.sigs/<key id hex>.<purpose>.sig`: detached signatures
 * - `images/<root hex>.cfs`: the composefs image
 * - `verity.log`: cached fs-verity digests of blobs (composer/image-store.ts)
 * - `worlds/<root hex>/`: hard-link worlds
 *
 * @see specs/composition.md §10–§13
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  CompositionError,
  NotFoundError,
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
  treeDigest,
  verifySignatures,
  writeFileAtomicSync,
  type Digest,
  type Purpose,
  type Signature,
  type Store,
  type Tree,
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
import { mergeComposition, type MergedView } from './merge.ts';
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
  private readonly pending = new Map<Digest, Tree>();
  constructor(private readonly store: Store) {}
  async getTree(d: Digest): Promise<ViewTree> {
    return this.pending.get(d) ?? this.store.getTree(d);
  }
  async putTree(t: ViewTree): Promise<Digest> {
    const tree = makeTree(t.entries);
    const d = treeDigest(tree);
    if (!this.pending.has(d)) this.pending.set(d, tree);
    return d;
  }
  blobSize(d: Digest): Promise<number> {
    return storeAccess(this.store).blobSize(d);
  }
  /** Writes the new trees to the store, children first (the order they were made in). */
  async flush(): Promise<void> {
    for (const t of this.pending.values()) await this.store.putTree(t);
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
  async save(c: Composition): Promise<{ root: Digest; view: MergedView }> {
    for (const name of entryNames(c)) {
      const n = c.entries[name]!.node;
      if (n.kind === 'tree' && !(await this.store.hasTree(n.digest)))
        throw new NotFoundError(`entry ${name}: tree ${n.digest} is not in the store ${this.store.root}`, {
          data: { name, digest: n.digest },
        });
      if (n.kind === 'file' && !(await this.store.hasBlob(n.digest)))
        throw new NotFoundError(`entry ${name}: blob ${n.digest} is not in the store ${this.store.root}`, {
          data: { name, digest: n.digest },
        });
    }
    const pending = new PendingTrees(this.store);
    const view = await mergeComposition(c, pending);
    await pending.flush();
    const root = await this.store.putBlob(encodeComposition(c));
    if (root !== compositionRoot(c)) throw new Error(`unreachable: blob digest ${root} is not the root`);
    const hex = digestHex(root);
    writeFileAtomicSync(this.viewCachePath(root), encodeCanonical(view), { mkdir: true });
    await this.store.addRoot(`composition-${hex}`, root);
    for (const name of entryNames(c)) {
      const n = c.entries[name]!.node;
      if (n.kind !== 'symlink') await this.store.addRoot(`composition-${hex}-${name}`, n.digest);
    }
    return { root, view };
  }

  /**
   * Loads a composition by root.
   * @throws NotFoundError E4 when no composition with that root is stored
   * @throws CompositionError E18 / EncodingError E3 when the blob is not a composition
   */
  async load(root: Digest): Promise<Composition> {
    if (!(await this.store.hasBlob(root)))
      throw new NotFoundError(`composition ${root} is not in the store ${this.store.root}`, {
        data: { digest: root },
        hint: 'store it with `eos compose FILE`',
      });
    return parseComposition(await this.store.readBlob(root), `composition ${root}`);
  }

  private viewCachePath(root: Digest): string {
    return this.dir('compositions', `${digestHex(root)}.view.json`);
  }

  /**
   * The merged view of a stored composition, from the cache `compositions/<root hex>.view.json`
   * (canonical JSON `{shadowed, tree}`) when its tree is still stored, else recomputed and cached.
   * @throws NotFoundError E4; CompositionError E18 on a conflict
   */
  async view(root: Digest): Promise<MergedView & { cached: boolean }> {
    const cache = this.viewCachePath(root);
    try {
      const v = JSON.parse(readFileSync(cache, 'utf8')) as MergedView;
      if (isDigest(v.tree) && Array.isArray(v.shadowed) && (await this.store.hasTree(v.tree)))
        return { tree: v.tree, shadowed: v.shadowed, cached: true };
    } catch {
      // absent or unreadable: recompute
    }
    const c = await this.load(root);
    const v = await mergeComposition(c, storeAccess(this.store));
    writeFileAtomicSync(cache, encodeCanonical(v), { mkdir: true });
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
    if (existsSync(dir)) return { dir, cached: true };
    const v = await this.view(root);
    const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    mkdirSync(dirname(dir), { recursive: true });
    try {
      await this.store.materialize(v.tree, tmp);
      for (const p of worldMountPoints(true)) if (!existsSync(join(tmp, p))) mkdirSync(join(tmp, p));
      renameSync(tmp, dir);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      if (existsSync(dir)) return { dir, cached: true }; // another process won the race
      throw e;
    }
    return { dir, cached: false };
  }
}
