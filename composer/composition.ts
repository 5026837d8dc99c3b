/**
 * The composition object: a small map from conventional entry names to content digests, each
 * bound at an absolute FHS prefix, with an explicit precedence for resolving file conflicts. Its
 * root is the digest of its canonical encoding. Pure: no I/O.
 *
 * @see specs/composition.md
 */
import {
  CompositionError,
  digestBytes,
  digestCanonical,
  encodeCanonical,
  isDigest,
  parseCanonical,
  type Digest,
} from '../src/kernel/index.ts';

/**
 * The format version of a composition whose constraints are all `exact`. @see specs/composition.md §2
 */
export const COMPOSITION_VERSION = 1;
/**
 * The format version of a composition with a `satisfies` or `override` constraint (a swap). A
 * composition is version 2 exactly when it has one, so one content has one root.
 * @see specs/composition.md §2, §5
 */
export const COMPOSITION_VERSION_SWAP = 2;

/** Entry names: lowercase letters, digits and `. _ + -`, starting with a letter or digit, 1–64 chars. @see specs/composition.md §3 */
export const ENTRY_NAME_RE = /^[a-z0-9][a-z0-9._+-]{0,63}$/;

/** A store tree bound at the prefix: its contents become the directory `at`. */
export interface TreeNode {
  kind: 'tree';
  digest: Digest;
}
/** A single file placed at the path `at`. */
export interface FileNode {
  kind: 'file';
  digest: Digest;
  executable: boolean;
}
/** A symbolic link placed at the path `at`; the target is kept verbatim. */
export interface SymlinkNode {
  kind: 'symlink';
  target: string;
}
/** What an entry binds. @see specs/composition.md §4 */
export type EntryNode = TreeNode | FileNode | SymlinkNode;

/** The default constraint: the node must be exactly this digest. @see specs/composition.md §5 */
export interface ExactConstraint {
  kind: 'exact';
  digest: Digest;
}
/**
 * A swapped entry: its node differs from the node it was first pinned to, and the stored swap proof
 * `proof` (specs/interface.md §11) shows the node covers every consumer of the pinned node in this
 * composition. Readers re-check the proof. @see specs/composition.md §5
 */
export interface SatisfiesConstraint {
  kind: 'satisfies';
  /** The node digest the entry was first pinned to (kept across later swaps). */
  pinned: Digest;
  /** The digest of the swap proof blob (verdict `covered`). */
  proof: Digest;
}
/**
 * A forced swap: like `satisfies`, but the proof's verdict is `not-covered`; `reason` says why it
 * was written anyway. `eos compose verify` reports it. @see specs/composition.md §5
 */
export interface OverrideConstraint {
  kind: 'override';
  pinned: Digest;
  /** The digest of the failed swap proof blob. */
  proof: Digest;
  /** Why the failed proof was overridden (1–4096 UTF-8 bytes, no NUL). */
  reason: string;
}
/**
 * What an entry promises about its node: `exact` (version 1 and 2), `satisfies` and `override`
 * (version 2 only). A reader rejects a kind it does not know.
 */
export type Constraint = ExactConstraint | SatisfiesConstraint | OverrideConstraint;

/** One named entry. */
export interface CompositionEntry {
  /** Absolute, normalized FHS prefix (`/`, `/usr`, `/usr/bin/dash`). */
  at: string;
  node: EntryNode;
  constraint: Constraint;
}

/** The composition object as hashed and signed (detached signatures live beside it). */
export interface CompositionData {
  /** 1 when every constraint is `exact`, else 2. */
  version: 1 | 2;
  entries: Record<string, CompositionEntry>;
  /** Entry names, highest precedence first; resolves file/file conflicts. @see specs/composition.md §6.4 */
  precedence: string[];
}

/** A validated composition. Only {@link makeComposition} and {@link parseComposition} return one. */
export type Composition = CompositionData & { readonly __brand: 'Composition' };

const PREFIX_COMPONENT_MAX_BYTES = 255;
const SYMLINK_TARGET_MAX_BYTES = 4095;

function fail(detail: string, data: Record<string, unknown> = {}, hint?: string): never {
  throw new CompositionError(detail, { data, ...(hint ? { hint } : {}) });
}

/**
 * Checks an entry name. @throws CompositionError E18 naming the name
 * @see specs/composition.md §3
 */
export function checkEntryName(name: string, where = 'composition'): void {
  if (!ENTRY_NAME_RE.test(name))
    fail(
      `${where}: entry name ${JSON.stringify(name)} is not allowed (lowercase letters, digits, ". _ + -", starting with a letter or digit, at most 64 characters)`,
      { name },
    );
}

/**
 * Checks an FHS prefix: absolute, normalized (no empty, `.` or `..` components, no trailing
 * slash except `/` itself), no NUL, components at most 255 bytes.
 * @throws CompositionError E18 naming the entry and the prefix
 * @see specs/composition.md §4.1
 */
export function checkPrefix(at: unknown, where: string): string {
  if (typeof at !== 'string') fail(`${where}.at: expected a string`, { at: String(at) });
  const bad = (why: string): never =>
    fail(`${where}.at: prefix ${JSON.stringify(at)} ${why}`, { at }, 'write it like "/usr/lib"');
  if (!at.startsWith('/')) bad('is not absolute');
  if (at.includes('\0')) bad('contains NUL');
  if (at === '/') return at;
  if (at.endsWith('/')) bad('ends with "/"');
  for (const c of at.slice(1).split('/')) {
    if (c === '') bad('has an empty component');
    if (c === '.' || c === '..') bad(`has a "${c}" component`);
    if (Buffer.byteLength(c) > PREFIX_COMPONENT_MAX_BYTES) bad('has a component longer than 255 bytes');
  }
  return at;
}

/** The components of a normalized prefix (`/` → `[]`). */
export function prefixComponents(at: string): string[] {
  return at === '/' ? [] : at.slice(1).split('/');
}

/**
 * The digest an exact constraint pins for a node: the tree or blob digest, or for a symlink the
 * BLAKE3 of its target's UTF-8 bytes. @see specs/composition.md §5
 */
export function nodeDigest(node: EntryNode): Digest {
  return node.kind === 'symlink' ? digestBytes(node.target) : node.digest;
}

/**
 * An entry binding `node` at `at` with the default exact constraint (for programs that build
 * compositions, e.g. a build world from a toolchain and dependency outputs). Validated by
 * {@link makeComposition}.
 */
export function exactEntry(at: string, node: EntryNode): CompositionEntry {
  return { at, node, constraint: { kind: 'exact', digest: nodeDigest(node) } };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(v: Record<string, unknown>, keys: string[], where: string): void {
  for (const k of Object.keys(v))
    if (!keys.includes(k)) fail(`${where}: unknown field ${JSON.stringify(k)}`, { field: k });
  for (const k of keys) if (!(k in v)) fail(`${where}: missing field ${JSON.stringify(k)}`, { field: k });
}

function checkDigestField(v: unknown, where: string): Digest {
  if (!isDigest(v)) fail(`${where}: ${JSON.stringify(v)} is not a digest (blake3:<64 lowercase hex>)`);
  return v;
}

function checkNode(v: unknown, where: string): EntryNode {
  if (!isObject(v)) fail(`${where}: expected an object`);
  switch (v.kind) {
    case 'tree':
      onlyKeys(v, ['kind', 'digest'], where);
      return { kind: 'tree', digest: checkDigestField(v.digest, `${where}.digest`) };
    case 'file':
      onlyKeys(v, ['kind', 'digest', 'executable'], where);
      if (typeof v.executable !== 'boolean') fail(`${where}.executable: expected true or false`);
      return {
        kind: 'file',
        digest: checkDigestField(v.digest, `${where}.digest`),
        executable: v.executable,
      };
    case 'symlink': {
      onlyKeys(v, ['kind', 'target'], where);
      const t = v.target;
      if (
        typeof t !== 'string' ||
        t === '' ||
        t.includes('\0') ||
        Buffer.byteLength(t) > SYMLINK_TARGET_MAX_BYTES
      )
        fail(`${where}.target: expected a non-empty string without NUL, at most 4095 bytes`);
      return { kind: 'symlink', target: t };
    }
    default:
      fail(`${where}.kind: ${JSON.stringify(v.kind)} is not one of "tree", "file", "symlink"`);
  }
}

const REASON_MAX_BYTES = 4096;

function checkConstraint(v: unknown, node: EntryNode, where: string, version: 1 | 2): Constraint {
  if (!isObject(v)) fail(`${where}: expected an object`);
  if (version === COMPOSITION_VERSION_SWAP && (v.kind === 'satisfies' || v.kind === 'override')) {
    onlyKeys(
      v,
      v.kind === 'satisfies' ? ['kind', 'pinned', 'proof'] : ['kind', 'pinned', 'proof', 'reason'],
      where,
    );
    if (node.kind === 'symlink') fail(`${where}: a symlink node cannot carry a ${v.kind} constraint`);
    const pinned = checkDigestField(v.pinned, `${where}.pinned`);
    const proof = checkDigestField(v.proof, `${where}.proof`);
    if (pinned === nodeDigest(node))
      fail(`${where}: ${v.kind} constraint pins the node itself (${pinned}); use exact`, { pinned });
    if (v.kind === 'satisfies') return { kind: 'satisfies', pinned, proof };
    const r = v.reason;
    if (
      typeof r !== 'string' ||
      r.trim() === '' ||
      r.includes('\0') ||
      Buffer.byteLength(r) > REASON_MAX_BYTES
    )
      fail(`${where}.reason: expected a non-empty string without NUL, at most 4096 bytes`);
    return { kind: 'override', pinned, proof, reason: r };
  }
  if (v.kind !== 'exact')
    fail(
      `${where}.kind: ${JSON.stringify(v.kind)} is not a constraint kind version ${version} knows (${
        version === 1 ? '"exact"' : '"exact", "satisfies", "override"'
      })`,
      { kind: String(v.kind) },
    );
  onlyKeys(v, ['kind', 'digest'], where);
  const digest = checkDigestField(v.digest, `${where}.digest`);
  const want = nodeDigest(node);
  if (digest !== want)
    fail(`${where}: exact constraint pins ${digest} but the node is ${want}`, { pinned: digest, node: want });
  return { kind: 'exact', digest };
}

/**
 * Validates a composition-shaped value and returns it branded, with fields in a fresh object
 * (nothing extra carried over).
 * @throws CompositionError E18 naming the entry and field: bad version (1 with only exact
 *   constraints, 2 with at least one satisfies or override), names, prefixes, nodes,
 *   constraints, a file or symlink bound at `/`, a precedence list
 *   naming an unknown entry or one entry twice
 * @see specs/composition.md §2–§6
 */
export function makeComposition(value: unknown, what = 'composition'): Composition {
  if (!isObject(value)) fail(`${what}: expected an object`);
  if (value.version !== COMPOSITION_VERSION && value.version !== COMPOSITION_VERSION_SWAP)
    fail(`${what}.version: ${JSON.stringify(value.version)} is not a supported version (1, 2)`, {
      version: String(value.version),
    });
  const version = value.version;
  onlyKeys(value, ['version', 'entries', 'precedence'], what);
  if (!isObject(value.entries)) fail(`${what}.entries: expected an object`);
  const entries: Record<string, CompositionEntry> = {};
  for (const name of Object.keys(value.entries).sort()) {
    checkEntryName(name, what);
    const where = `${what}.entries.${name}`;
    const e = value.entries[name];
    if (!isObject(e)) fail(`${where}: expected an object`);
    onlyKeys(e, ['at', 'node', 'constraint'], where);
    const at = checkPrefix(e.at, where);
    const node = checkNode(e.node, `${where}.node`);
    if (at === '/' && node.kind !== 'tree') fail(`${where}: a ${node.kind} cannot be bound at "/"`, { name });
    const constraint = checkConstraint(e.constraint, node, `${where}.constraint`, version);
    entries[name] = { at, node, constraint };
  }
  if (
    version === COMPOSITION_VERSION_SWAP &&
    Object.values(entries).every((e) => e.constraint.kind === 'exact')
  )
    fail(`${what}.version: 2 is only for a composition with a satisfies or override constraint; write 1`, {
      version: '2',
    });
  if (!Array.isArray(value.precedence)) fail(`${what}.precedence: expected a list of entry names`);
  const seen = new Set<string>();
  for (const p of value.precedence) {
    if (typeof p !== 'string' || !(p in entries))
      fail(`${what}.precedence: ${JSON.stringify(p)} is not an entry of this composition`, {
        name: String(p),
      });
    if (seen.has(p)) fail(`${what}.precedence: ${p} is listed twice`, { name: p });
    seen.add(p);
  }
  return { version, entries, precedence: [...(value.precedence as string[])] } as Composition;
}

/** The canonical bytes of a composition (RFC 8785 JSON). @see specs/composition.md §7 */
export function encodeComposition(c: Composition): Uint8Array {
  return encodeCanonical(c);
}

/** The root of a composition: BLAKE3 of its canonical encoding. @see specs/composition.md §7 */
export function compositionRoot(c: Composition): Digest {
  return digestCanonical(c);
}

/**
 * Decodes canonical composition bytes (e.g. the blob named by a root) and validates them.
 * @throws EncodingError E3 when the bytes are not canonical JSON
 * @throws CompositionError E18 when the object is not a valid composition
 */
export function parseComposition(bytes: Uint8Array, what = 'composition'): Composition {
  return makeComposition(parseCanonical(bytes, what), what);
}

/** Entry names in a stable order (sorted). */
export function entryNames(c: Composition): string[] {
  return Object.keys(c.entries).sort();
}

/**
 * One line of text for a constraint: `exact DIGEST`, `satisfies PINNED proof PROOF`, or
 * `override PINNED proof PROOF reason "…"`. @see specs/composition.md §10
 */
export function describeConstraint(c: Constraint): string {
  switch (c.kind) {
    case 'exact':
      return `exact ${c.digest}`;
    case 'satisfies':
      return `satisfies ${c.pinned} proof ${c.proof}`;
    case 'override':
      return `override ${c.pinned} proof ${c.proof} reason ${JSON.stringify(c.reason)}`;
  }
}

/**
 * The digest an entry was first pinned to: the exact digest, or a swapped entry's `pinned`.
 * @see specs/composition.md §5
 */
export function pinnedDigest(e: CompositionEntry): Digest {
  return e.constraint.kind === 'exact' ? e.constraint.digest : e.constraint.pinned;
}
