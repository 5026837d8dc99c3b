/**
 * `eos swap ROOT NAME=NODE [--atom LABEL@VERSION] [--sign-key K] [--image FILE] [--force --reason TEXT]`:
 * replaces one entry's node in a stored composition, proves that the new node covers every consumer
 * of the old one in that composition (specs/interface.md §11), and writes the new composition with
 * a `satisfies` constraint. NODE is a tree or blob digest in the store, or a path to ingest; with
 * `--atom` the node is the cached output of that built atom (and NAME defaults to its label).
 * Prints `root⇥NEW`, `proof⇥DIGEST⇥VERDICT⇥N consumer(s)⇥M symbol(s)`, one `consumer⇥PATH⇥SONAMES⇥N
 * symbol(s)` per consumer, `unchecked⇥PATH⇥SONAMES`, then `eos compose diff`-style lines (entries,
 * then paths). Not covered: `missing⇥CONSUMER⇥SONAME⇥ITEM⇥WHY` lines, exit 3, nothing written.
 * @see specs/composition.md §14
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  NotCoveredError,
  NotFoundError,
  Store,
  UsageError,
  configDir,
  writeFileAtomic,
  isDigest,
  parseDigest,
  type Digest,
} from '../kernel/index.ts';
import {
  CompositionStore,
  compositionImage,
  diffEntries,
  diffViews,
  proofFailures,
  storeAccess,
  swapEntry,
  type EntryNode,
  type SwapProof,
} from '../../composer/index.ts';
import { findAtomOutputs } from '../../scheduler/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos swap`. */
export interface SwapOptions extends GlobalOptions {
  root: string;
  /** `NAME=NODE`, or `NAME` with `--atom`. */
  assignment?: string;
  atom?: string;
  signKey?: string;
  image?: string;
  force?: boolean;
  reason?: string;
}

const MARK = { added: '+', removed: '-', changed: '~' } as const;

/** The node NODE names: a stored tree or blob, or a path ingested now. */
async function nodeOf(store: Store, spec: string, like: EntryNode): Promise<EntryNode> {
  if (isDigest(spec)) {
    if (await store.hasTree(spec)) return { kind: 'tree', digest: spec };
    if (await store.hasBlob(spec))
      return { kind: 'file', digest: spec, executable: like.kind === 'file' && like.executable };
    throw new NotFoundError(`swap: ${spec} is neither a tree nor a blob in the store ${store.root}`, {
      data: { digest: spec },
    });
  }
  if (spec.startsWith('blake3:')) parseDigest(spec, 'NODE');
  const p = resolve(spec);
  if (!existsSync(p))
    throw new NotFoundError(`swap: NODE ${spec} is neither a digest nor an existing path`, {
      data: { path: p },
    });
  const st = statSync(p);
  const r = await store.ingest(p);
  return st.isDirectory()
    ? { kind: 'tree', digest: r.digest }
    : { kind: 'file', digest: r.digest, executable: (st.mode & 0o111) !== 0 };
}

/** The cached output of a built atom, newest first when it was built in several worlds. */
async function atomNode(
  store: Store,
  atom: string,
): Promise<{ node: EntryNode; note: string; label: string }> {
  const at = atom.lastIndexOf('@');
  if (at <= 0 || at === atom.length - 1)
    throw new UsageError(`--atom: ${JSON.stringify(atom)} is not LABEL@VERSION`, {
      hint: '--atom openssl@3.0.22',
    });
  const label = atom.slice(0, at);
  const version = atom.slice(at + 1);
  const found = await findAtomOutputs(store, label, version);
  if (found.length === 0)
    throw new NotFoundError(
      `swap: no cached build of ${label}@${version} in the action cache of ${store.root}`,
      {
        data: { label, version },
        hint: `build it once: eos build LOCK --only ${label} (a lock that pins ${label} ${version})`,
      },
    );
  const f = found[0]!;
  const others = new Set(found.map((x) => x.output)).size - 1;
  return {
    node: { kind: 'tree', digest: f.output },
    label,
    note: `action ${f.action} (world ${f.world})${others > 0 ? `; ${others} other output(s) in older actions` : ''}`,
  };
}

function proofLines(p: SwapProof, digest: Digest): string[] {
  const lines = [
    `proof\t${digest}\t${p.verdict}\t${p.checked.consumers} consumer(s)\t${p.checked.symbols} symbol(s)`,
  ];
  for (const c of p.consumers)
    lines.push(
      `consumer\t${c.path}\t${c.needs.map((n) => n.soname).join(',')}\t${c.needs.reduce((s, n) => s + n.symbols.length, 0)} symbol(s)`,
    );
  for (const u of p.unchecked)
    lines.push(`unchecked\t${u.path}\t${u.sonames.join(',')}\tdlopen user, not checked`);
  return lines;
}

/**
 * Runs `eos swap`.
 * @throws UsageError E1/E2 (bad arguments), NotFoundError E4, NotCoveredError E32 (exit 3; as lines),
 *   CompositionError E18, ElfFormatError E15, KeyError E9 (`--sign-key`)
 */
export async function run(opts: SwapOptions): Promise<CommandResult> {
  const root = parseDigest(opts.root, 'ROOT');
  const store = new Store(opts.store);
  const cs = new CompositionStore(store);
  const c0 = await cs.load(root);
  const assignment = opts.assignment ?? '';
  const eq = assignment.indexOf('=');
  let name = eq >= 0 ? assignment.slice(0, eq) : assignment;
  const spec = eq >= 0 ? assignment.slice(eq + 1) : '';
  if (opts.atom !== undefined && spec !== '')
    throw new UsageError('eos swap: give NAME=NODE or NAME --atom LABEL@VERSION, not both');
  if (opts.atom === undefined && spec === '')
    throw new UsageError(
      'eos swap: say what to swap in: NAME=NODE (a digest or a path) or --atom LABEL@VERSION',
      {
        hint: 'eos swap ROOT openssl --atom openssl@3.0.22',
      },
    );
  if (opts.reason !== undefined && !opts.force) throw new UsageError('eos swap: --reason goes with --force');
  if (opts.force && (opts.reason ?? '').trim() === '')
    throw new UsageError('eos swap: --force needs --reason TEXT (recorded in the override constraint)');
  const notes: string[] = [];
  let node: EntryNode;
  if (opts.atom !== undefined) {
    const a = await atomNode(store, opts.atom);
    if (name === '') name = a.label;
    node = a.node;
    notes.push(
      `eos swap: ${opts.atom} is ${a.node.kind} ${(a.node as { digest: Digest }).digest} from ${a.note}`,
    );
  } else {
    const like = c0.entries[name]?.node ?? { kind: 'tree', digest: root };
    node = await nodeOf(store, spec, like);
  }
  let r;
  try {
    r = await swapEntry(cs, root, name, node, opts.force ? { force: { reason: opts.reason! } } : {});
  } catch (e) {
    if (!(e instanceof NotCoveredError)) throw e;
    const fails = (e.data.failures ?? []) as ReturnType<typeof proofFailures>;
    return {
      lines: fails.map((f) => `missing\t${f.consumer}\t${f.soname}\t${f.item}\t${f.why}`),
      json: { version: 1, root, entry: name, written: false, verdict: 'not-covered', failures: fails },
      notes: [...notes, `eos: ${e.message}`, ...(e.hint ? [`hint: ${e.hint}`] : [])],
      exitCode: 3,
    };
  }
  const lines = [`root\t${r.root}`];
  if (r.proof && r.proofDigest) lines.push(...proofLines(r.proof, r.proofDigest));
  if (r.constraint === 'unchanged')
    notes.push(`eos swap: entry ${name} already has node ${(node as { digest: Digest }).digest}`);
  if (r.constraint === 'exact')
    notes.push(`eos swap: entry ${name} is back at its pinned node (exact, no proof)`);
  if (r.constraint === 'override') {
    for (const f of r.proof ? proofFailures(r.proof) : [])
      lines.push(`missing\t${f.consumer}\t${f.soname}\t${f.item}\t${f.why}`);
    notes.push(
      `eos: WARNING: OVERRIDE: ${name} does NOT cover its consumers; written anyway with an override constraint (reason: ${JSON.stringify(opts.reason)}); eos compose verify reports it`,
    );
  }
  const entries = diffEntries(c0, r.composition);
  const v0 = await cs.view(root);
  const paths = await diffViews(storeAccess(store), v0.tree, r.view.tree);
  lines.push(
    ...entries.map((e) => `${e.change}\t${e.name}`),
    ...paths.map((p) => `${MARK[p.change]}\t${p.path}`),
  );
  let signedBy: Digest | undefined;
  if (opts.signKey && r.written) {
    const sig = await cs.sign(r.root, configDir(), opts.signKey, 'compositions');
    signedBy = sig.key;
    lines.push(`signed\t${r.root}\t${sig.key}\tcompositions`);
  }
  let image: { path: string; sizeBytes: number } | undefined;
  if (opts.image) {
    const img = await compositionImage(cs, r.root);
    await writeFileAtomic(opts.image, readFileSync(img.path));
    image = { path: opts.image, sizeBytes: img.sizeBytes };
    lines.push(`image\t${opts.image}\t${img.sizeBytes}\t${r.root}`);
  }
  return {
    lines,
    json: {
      version: 1,
      old: root,
      root: r.root,
      entry: name,
      constraint: r.constraint,
      written: r.written,
      proof: r.proof,
      proofDigest: r.proofDigest,
      entries: entries.map((e) => ({ name: e.name, change: e.change })),
      paths,
      ...(signedBy ? { signedBy } : {}),
      ...(image ? { image } : {}),
    },
    ...(notes.length ? { notes } : {}),
    ...(r.constraint === 'override' ? { exitCode: 0 } : {}),
  };
}
