/**
 * The swap: a new composition with one entry's node replaced, carrying a `satisfies` constraint
 * (or, when forced, an `override`) that names the node it was first pinned to and the stored swap
 * proof; and the readers' re-check of such constraints. Nothing that depends on the entry is
 * rebuilt: its consumers keep their bytes, the composition says which bytes the soname is.
 *
 * I/O: reads the store; {@link swapEntry} writes the proof blob, the new composition and its roots
 * only when the proof covers (or `force` is given).
 *
 * @see specs/composition.md §5, §14; specs/interface.md §11
 */
import {
  NotCoveredError,
  NotFoundError,
  SwapProofMismatchError,
  SwapProofMissingError,
  UsageError,
  encodeCanonical,
  parseCanonical,
  type Digest,
  type Tree,
} from '../src/kernel/index.ts';
import {
  COMPOSITION_VERSION,
  COMPOSITION_VERSION_SWAP,
  compositionRoot,
  makeComposition,
  nodeDigest,
  pinnedDigest,
  type Composition,
  type CompositionEntry,
  type Constraint,
  type EntryNode,
} from './composition.ts';
import { PendingTrees, type CompositionStore } from './compose-store.ts';
import type { MergedView } from './merge.ts';
import {
  proofFailures,
  proveSwap,
  SWAP_PROOF_KIND,
  SWAP_PROOF_VERSION,
  type SwapProof,
} from './swap-proof.ts';
import { sonameIndex } from './soname-index.ts';

/** A composition with entry `name` replaced (version 1 when every constraint is exact, else 2). */
export function withEntry(c: Composition, name: string, entry: CompositionEntry): Composition {
  const entries = { ...c.entries, [name]: entry };
  const exactOnly = Object.values(entries).every((e) => e.constraint.kind === 'exact');
  return makeComposition(
    {
      version: exactOnly ? COMPOSITION_VERSION : COMPOSITION_VERSION_SWAP,
      entries,
      precedence: c.precedence,
    },
    'swapped composition',
  );
}

/** The node a pinned digest names, shaped like `like` (a tree stays a tree; a file keeps its bit). */
async function pinnedNode(cs: CompositionStore, pinned: Digest, like: EntryNode): Promise<EntryNode> {
  if (like.kind === 'file' && (await cs.store.hasBlob(pinned)))
    return { kind: 'file', digest: pinned, executable: like.executable };
  if (await cs.store.hasTree(pinned)) return { kind: 'tree', digest: pinned };
  if (await cs.store.hasBlob(pinned))
    return { kind: 'file', digest: pinned, executable: like.kind === 'file' && like.executable };
  throw new NotFoundError(`pinned node ${pinned} is not in the store ${cs.store.root}`, {
    data: { digest: pinned },
  });
}

/** The composition with `name` back at its pinned node under an exact constraint (the proof's base). */
async function baseOf(cs: CompositionStore, c: Composition, name: string): Promise<Composition> {
  const e = c.entries[name]!;
  if (e.constraint.kind === 'exact') return c;
  const node = await pinnedNode(cs, e.constraint.pinned, e.node);
  return withEntry(c, name, { at: e.at, node, constraint: { kind: 'exact', digest: nodeDigest(node) } });
}

/** A view computed without writing: the view, a reader of its (pending) trees, and the rest view to keep. */
interface PendingView {
  view: MergedView;
  pending: PendingTrees;
  rest: Parameters<CompositionStore['keepRestView']>[0];
}

/**
 * The merged view of `c` without writing, built around entry `name` (the one swapped): from the
 * merged view of the other entries, cached per composition family, so the cost follows the entry,
 * not the number of other entries (specs/composition.md §10).
 */
async function pendingView(
  cs: CompositionStore,
  c: Composition,
  name: string,
  like?: PendingView,
): Promise<PendingView> {
  const pending = like?.pending ?? new PendingTrees(cs.store);
  const { view, rest } = await cs.viewAround(c, name, pending, like?.rest);
  return { view, pending, rest };
}

/** The base's view: the stored composition's cached view when the base is it, else around `name`. */
async function baseView(
  cs: CompositionStore,
  root: Digest,
  c: Composition,
  base: Composition,
  name: string,
): Promise<PendingView> {
  if (base === c) return { view: await cs.view(root), pending: new PendingTrees(cs.store), rest: null };
  return pendingView(cs, base, name);
}

/** What {@link swapEntry} decided and wrote. */
export interface SwapResult {
  /** The new composition's root (also when refused: what it would have been, nothing written). */
  root: Digest;
  composition: Composition;
  /** The merged view of the new composition. */
  view: MergedView;
  /** The proof (null when the entry went back to its pinned node, which needs none). */
  proof: SwapProof | null;
  proofDigest: Digest | null;
  /** `satisfies`, `override`, `exact` (back at the pinned node) or `unchanged`. */
  constraint: Constraint['kind'] | 'unchanged';
  /** Whether anything was stored. */
  written: boolean;
}

/**
 * Replaces entry `name`'s node in the stored composition `root` by `node` and proves the swap.
 * Covered: stores the proof blob and the new composition (one pin `composition-<hex>` whose tree
 * keeps its entries' nodes and each swapped entry's proof and pinned node) with a `satisfies` constraint. Not covered:
 * writes nothing and throws, unless `force` (with a reason) writes an `override` constraint.
 * @throws UsageError E1 (unknown entry, a symlink entry, force without a reason)
 * @throws NotCoveredError E32 listing each consumer's missing `symbol@VERSION` (nothing written)
 * @throws NotFoundError E4, CompositionError E18 (a merge conflict), ElfFormatError E15
 * @see specs/composition.md §14
 */
export async function swapEntry(
  cs: CompositionStore,
  root: Digest,
  name: string,
  node: EntryNode,
  opts: { force?: { reason: string } } = {},
): Promise<SwapResult> {
  const c0 = await cs.load(root);
  const e0 = c0.entries[name];
  if (!e0)
    throw new UsageError(`swap: ${root} has no entry ${JSON.stringify(name)}`, {
      data: { entry: name },
      hint: `its entries: ${Object.keys(c0.entries).sort().join(', ')}`,
    });
  if (e0.node.kind === 'symlink' || node.kind === 'symlink')
    throw new UsageError(`swap: entry ${name}: symlink nodes are not swapped (bind the link anew)`);
  if (opts.force && opts.force.reason.trim() === '')
    throw new UsageError('swap: --force needs --reason TEXT saying why the failed proof is overridden');
  const newDigest = nodeDigest(node);
  if (newDigest === nodeDigest(e0.node)) {
    const v = await cs.view(root);
    return {
      root,
      composition: c0,
      view: v,
      proof: null,
      proofDigest: null,
      constraint: 'unchanged',
      written: false,
    };
  }
  const pinned = pinnedDigest(e0);
  if (newDigest === pinned) {
    // Back to the node the entry was pinned to: an exact constraint, no proof needed.
    const c1 = withEntry(c0, name, { at: e0.at, node, constraint: { kind: 'exact', digest: pinned } });
    const { root: r1, view } = await cs.save(c1);
    return {
      root: r1,
      composition: c1,
      view,
      proof: null,
      proofDigest: null,
      constraint: 'exact',
      written: true,
    };
  }
  const base = await baseOf(cs, c0, name);
  // The proof reads it; every composition derived here gets its own from it, one line changed.
  const baseIndex = await sonameIndex(cs.store, base);
  const bv = await baseView(cs, root, c0, base, name);
  // The new view does not depend on constraints; merge with a placeholder, then bind the proof.
  const draft = withEntry(c0, name, { at: e0.at, node, constraint: { kind: 'exact', digest: newDigest } });
  const next = await pendingView(cs, draft, name, bv.rest ? bv : undefined);
  const { proof, digest } = await proveSwap(
    cs.store,
    name,
    {
      composition: base,
      tree: bv.view.tree,
      getTree: (d) => bv.pending.getTree(d) as Promise<Tree>,
    },
    { composition: draft, tree: next.view.tree, getTree: (d) => next.pending.getTree(d) as Promise<Tree> },
  );
  if (proof.verdict !== 'covered' && !opts.force)
    throw notCovered(
      proof,
      name,
      newDigest,
      compositionRoot(
        withEntry(c0, name, { at: e0.at, node, constraint: { kind: 'satisfies', pinned, proof: digest } }),
      ),
    );
  const constraint: Constraint =
    proof.verdict === 'covered'
      ? { kind: 'satisfies', pinned, proof: digest }
      : { kind: 'override', pinned, proof: digest, reason: opts.force!.reason };
  let c1 = withEntry(c0, name, { at: e0.at, node, constraint });
  // Other swapped entries are proved again in the new composition (their consumers or their own
  // requirements may have changed with this swap); a satisfies entry that no longer covers stops it.
  const reproved: { name: string; proof: SwapProof; digest: Digest; pinned: Digest }[] = [];
  for (const other of Object.keys(c1.entries).sort()) {
    const e = c1.entries[other]!;
    const k = e.constraint;
    if (other === name || k.kind === 'exact') continue;
    const ob = await baseOf(cs, c1, other);
    await sonameIndex(cs.store, ob, baseIndex);
    const obv = await pendingView(cs, ob, other);
    const r = await proveSwap(
      cs.store,
      other,
      { composition: ob, tree: obv.view.tree, getTree: (d) => obv.pending.getTree(d) as Promise<Tree> },
      { composition: c1, tree: next.view.tree, getTree: (d) => next.pending.getTree(d) as Promise<Tree> },
    );
    if (k.kind === 'satisfies' && r.proof.verdict !== 'covered' && !opts.force)
      throw notCovered(r.proof, other, nodeDigest(e.node), compositionRoot(c1));
    if (r.digest === k.proof) continue;
    reproved.push({ name: other, proof: r.proof, digest: r.digest, pinned: k.pinned });
    const nk: Constraint =
      k.kind === 'satisfies' && r.proof.verdict === 'covered'
        ? { kind: 'satisfies', pinned: k.pinned, proof: r.digest }
        : {
            kind: 'override',
            pinned: k.pinned,
            proof: r.digest,
            reason: k.kind === 'override' ? k.reason : opts.force!.reason,
          };
    c1 = withEntry(c1, other, { at: e.at, node: e.node, constraint: nk });
  }
  const stored = await cs.store.putBlob(encodeCanonical(proof));
  if (stored !== digest) throw new Error(`unreachable: proof blob ${stored} is not ${digest}`);
  for (const x of reproved) await cs.store.putBlob(encodeCanonical(x.proof));
  // The new view is the draft's (the merge reads no constraint); its trees are written by save,
  // then the rest views it was built from are kept for the next swap and for readers' re-checks.
  // The pin tree keeps every swapped entry's proof and pinned node (specs/composition.md §10);
  // the entries it shares with the old composition's pin are taken from there.
  const saved = await cs.save(c1, { view: next.view, pending: next.pending, like: root });
  cs.keepRestView(next.rest);
  await sonameIndex(cs.store, c1, baseIndex);
  return {
    root: saved.root,
    composition: c1,
    view: saved.view,
    proof,
    proofDigest: digest,
    constraint: constraint.kind,
    written: true,
  };
}

function notCovered(proof: SwapProof, name: string, node: Digest, root: Digest): NotCoveredError {
  const fails = proofFailures(proof);
  const consumers = new Set(fails.map((f) => f.consumer));
  const first = fails[0];
  return new NotCoveredError(
    `${name}: ${node} does not cover ${consumers.size} consumer(s)${
      first ? `: ${first.consumer} needs ${first.item} from ${first.soname} (${first.why})` : ''
    }${fails.length > 1 ? ` (+${fails.length - 1} more)` : ''}`,
    {
      data: { entry: name, node, root, failures: fails },
      hint: 'nothing was written; --force --reason TEXT writes it anyway as an override',
    },
  );
}

/** A swapped entry as a reader found it. */
export interface SwapCheck {
  entry: string;
  kind: 'satisfies' | 'override';
  pinned: Digest;
  proof: Digest;
  verdict: SwapProof['verdict'];
  /** The override's reason. */
  reason?: string;
  consumers: number;
  symbols: number;
  /** For an override: what the failed proof lacks. */
  failures: ReturnType<typeof proofFailures>;
}

function parseProof(bytes: Uint8Array, what: string): SwapProof {
  const v = parseCanonical(bytes, what) as Partial<SwapProof> | null;
  if (
    v === null ||
    typeof v !== 'object' ||
    v.kind !== SWAP_PROOF_KIND ||
    v.version !== SWAP_PROOF_VERSION ||
    typeof v.entry !== 'string' ||
    typeof v.old?.node !== 'string' ||
    typeof v.new?.node !== 'string'
  )
    throw new SwapProofMismatchError(`${what} is not an ${SWAP_PROOF_KIND} version ${SWAP_PROOF_VERSION}`, {
      data: { what },
    });
  return v as SwapProof;
}

/**
 * Re-checks every `satisfies` and `override` constraint of a stored composition: the proof blob is
 * stored, names this entry and its two nodes, and recomputing the proof over this composition gives
 * the same bytes; a `satisfies` proof must cover. Compositions with only exact constraints pass at
 * once. Overrides are returned, not thrown: the caller reports them.
 * @throws SwapProofMissingError E30, SwapProofMismatchError E31, NotCoveredError E32
 * @see specs/composition.md §5
 */
export async function checkSwaps(cs: CompositionStore, root: Digest): Promise<SwapCheck[]> {
  const c = await cs.load(root);
  const out: SwapCheck[] = [];
  for (const name of Object.keys(c.entries).sort()) {
    const e = c.entries[name]!;
    const k = e.constraint;
    if (k.kind === 'exact') continue;
    const where = `composition ${root}: entry ${name}`;
    if (!(await cs.store.hasBlob(k.proof)))
      throw new SwapProofMissingError(
        `${where}: swap proof ${k.proof} is not in the store ${cs.store.root}`,
        {
          data: { root, entry: name, proof: k.proof },
          hint: 'the proof travels with the composition; copy it, or swap again to recompute it',
        },
      );
    const stored = parseProof(await cs.store.readBlob(k.proof), `${where}: proof ${k.proof}`);
    const node = nodeDigest(e.node);
    if (stored.entry !== name || stored.old.node !== k.pinned || stored.new.node !== node)
      throw new SwapProofMismatchError(
        `${where}: the proof is for entry ${stored.entry} ${stored.old.node} → ${stored.new.node}, the entry pins ${k.pinned} and has ${node}`,
        { data: { root, entry: name, proof: k.proof } },
      );
    const base = await baseOf(cs, c, name);
    // The base differs from this composition only at `name`: around it, the rest view is the
    // one the swap kept, so the re-check does not merge the other entries again.
    const bv = await pendingView(cs, base, name);
    const cur = await cs.view(root);
    const { proof, digest } = await proveSwap(
      cs.store,
      name,
      { composition: base, tree: bv.view.tree, getTree: (d) => bv.pending.getTree(d) as Promise<Tree> },
      { composition: c, tree: cur.tree, getTree: (d) => cs.store.getTree(d) },
    );
    if (k.kind === 'satisfies' && proof.verdict !== 'covered') throw notCovered(proof, name, node, root);
    if (digest !== k.proof)
      throw new SwapProofMismatchError(
        `${where}: recomputing the proof gives ${digest}, the entry names ${k.proof}`,
        {
          data: { root, entry: name, proof: k.proof, recomputed: digest },
        },
      );
    out.push({
      entry: name,
      kind: k.kind,
      pinned: k.pinned,
      proof: k.proof,
      verdict: proof.verdict,
      ...(k.kind === 'override' ? { reason: k.reason } : {}),
      consumers: proof.checked.consumers,
      symbols: proof.checked.symbols,
      failures: proofFailures(proof),
    });
  }
  return out;
}
