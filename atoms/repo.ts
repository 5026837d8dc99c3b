/**
 * The git side of atoms (I/O): claim, publish, verify and list atoms in a repository with
 * isomorphic-git. Every object Eos writes is an ordinary git object (blobs, trees, commits with a
 * fixed author and time 0), so the repository stays `git fsck --full --strict` clean and readable by
 * the git CLI.
 *
 * Layout (specs/atom.md §8):
 * - `refs/eos/claims/<label>` → claim commit: tree {record.json, signature.json}, no parent;
 * - `refs/eos/atoms/<label>/<version>` → publish commit: tree {content/ (the atom's subtree, the
 *   very tree object of the source commit), record.json, signature.json}, parent = the source commit;
 * - `refs/eos/set` → the set commit: tree {claims/<label>/ → claim tree, atoms/<label>/<version>/ →
 *   publish tree}, parents = [previous set commit, the new claim or publish commit].
 *
 * @see specs/atom.md §8–§10
 */
import fs from 'node:fs';
import { join, relative, resolve as resolvePath, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import type GitModule from 'isomorphic-git';
import type GitHttpModule from 'isomorphic-git/http/node';
import {
  AtomError,
  EosError,
  NotFoundError,
  digestBytes,
  digestHex,
  encodeCanonical,
  type ObjectStore,
  parseCanonical,
  type Digest,
} from '../src/kernel/index.ts';
import {
  contentDigestOfGitTree,
  putGitTree,
  type ContentDigest,
  type GitObjectReader,
  type GitTreeEntry,
} from './content-digest.ts';
import { isLabel, isVersion, parseManifest } from './atom-manifest.ts';
import {
  CLAIM_TYPE,
  PUBLISH_TYPE,
  encodeRecord,
  isAtomPath,
  parseClaim,
  parsePublish,
  recordDigest,
  type ClaimRecord,
  type PublishRecord,
} from './records.ts';
import type { AtomSigner, AtomVerifier, SignatureCheck } from './signing.ts';

const requireHere = createRequire(import.meta.url);
let gitModule: typeof GitModule | undefined;
let gitHttpModule: typeof GitHttpModule | undefined;
/** isomorphic-git, loaded on first use (~35 ms that a build of workspace atoms never needs). */
function git(): typeof GitModule {
  return (gitModule ??= requireHere('isomorphic-git') as typeof GitModule);
}
/** isomorphic-git's HTTP client for Node, loaded on first use (a fetch of a remote set). */
function gitHttp(): typeof GitHttpModule {
  return (gitHttpModule ??= requireHere('isomorphic-git/http/node') as typeof GitHttpModule);
}

/** The ref prefix of claims. */
export const CLAIMS_REF = 'refs/eos/claims/';
/** The ref prefix of published atoms. */
export const ATOMS_REF = 'refs/eos/atoms/';
/** The set commit's ref. */
export const SET_REF = 'refs/eos/set';

/** The author and committer of every object Eos writes: fixed, so equal content gives equal ids. */
const EOS_IDENTITY = { name: 'eos', email: 'eos@localhost', timestamp: 0, timezoneOffset: 0 };

/** An opened repository. */
export interface AtomRepo {
  /** The git directory (`.git` of a work tree, or a bare repository). */
  gitdir: string;
  /** The work tree root, when there is one. */
  dir?: string;
  /** isomorphic-git's object cache for this repository. */
  cache: object;
}

/** Turns a `file://` URL or a path into an absolute path; other URLs are refused. */
export function localPathOf(location: string, base = process.cwd()): string {
  if (location.startsWith('file://')) return fileURLToPath(location);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location))
    throw new AtomError(`${location}: only local repositories (a path or a file:// URL) can be read`, {
      data: { location },
      hint: 'clone the repository (git clone --mirror) and name the clone',
    });
  return resolvePath(base, location);
}

/** True for locations that are fetched over HTTP(S) rather than read in place. */
export function isRemoteLocation(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/**
 * Fetches an atom set from a git HTTP(S) server into a local cache repository: only
 * `refs/eos/set` is fetched, which reaches every claim, publish and source commit of the set
 * (specs/atom.md §8.3). The cache is `<cacheDir>/<first 32 hex of blake3(url)>.git`, a bare
 * repository whose `refs/eos/set` is the fetched commit.
 * @throws AtomError E20 when the server cannot be reached or publishes no set
 */
export async function fetchSetRepo(url: string, cacheDir: string): Promise<AtomRepo> {
  const gitdir = join(cacheDir, `${digestHex(digestBytes(url)).slice(0, 32)}.git`);
  if (!fs.existsSync(join(gitdir, 'HEAD'))) {
    fs.mkdirSync(gitdir, { recursive: true });
    await git().init({ fs, gitdir, bare: true, defaultBranch: 'main' });
  }
  await git().setConfig({ fs, gitdir, path: 'remote.origin.url', value: url });
  await git().setConfig({ fs, gitdir, path: 'remote.origin.fetch', value: `+${SET_REF}:${SET_REF}` });
  let fetched;
  try {
    fetched = await git().fetch({
      fs,
      http: gitHttp(),
      gitdir,
      url,
      remote: 'origin',
      ref: SET_REF,
      remoteRef: SET_REF,
      singleBranch: true,
      tags: false,
    });
  } catch (e) {
    throw new AtomError(`${url}: cannot fetch ${SET_REF} (${(e as Error).message})`, { data: { url } });
  }
  if (!fetched.fetchHead)
    throw new AtomError(`${url}: publishes no atoms (${SET_REF} is missing)`, { data: { url } });
  await git().writeRef({ fs, gitdir, ref: SET_REF, value: fetched.fetchHead, force: true });
  return { gitdir, cache: {} };
}

/**
 * Opens the repository at (or above) a path or `file://` URL.
 * @throws NotFoundError E4 when there is no git repository there
 */
export async function openRepo(location: string): Promise<AtomRepo> {
  const path = localPathOf(location);
  if (fs.existsSync(join(path, 'HEAD')) && fs.existsSync(join(path, 'objects')))
    return { gitdir: path, cache: {} };
  let dir: string;
  try {
    dir = await git().findRoot({ fs, filepath: path });
  } catch {
    throw new NotFoundError(`${location}: not in a git repository`, { data: { location } });
  }
  return { gitdir: join(dir, '.git'), dir, cache: {} };
}

/** A missing or unreadable git object, as an AtomError naming it. */
function missing(repo: AtomRepo, kind: string, oid: string, e: unknown): AtomError {
  return new AtomError(
    `${repo.gitdir}: git ${kind} ${oid} is missing or unreadable (${(e as Error).message})`,
    {
      data: { oid, kind },
    },
  );
}

function reader(repo: AtomRepo): GitObjectReader {
  return {
    async readTree(oid) {
      try {
        const r = await git().readTree({ fs, gitdir: repo.gitdir, oid, cache: repo.cache });
        return r.tree as GitTreeEntry[];
      } catch (e) {
        throw missing(repo, 'tree', oid, e);
      }
    },
    async readBlob(oid) {
      try {
        const r = await git().readBlob({ fs, gitdir: repo.gitdir, oid, cache: repo.cache });
        return r.blob;
      } catch (e) {
        throw missing(repo, 'blob', oid, e);
      }
    },
  };
}

/**
 * Opens an atom set for reading: a local repository in place, or an HTTP(S) one fetched into
 * `cacheDir` (then only the set commit is available: verify with `verifySetAtom`).
 */
export async function openAtomSource(
  location: string,
  cacheDir: string,
): Promise<{ repo: AtomRepo; fetched: boolean }> {
  if (isRemoteLocation(location)) return { repo: await fetchSetRepo(location, cacheDir), fetched: true };
  return { repo: await openRepo(location), fetched: false };
}

/** Resolves a ref to an object id, or undefined when it does not exist. */
export async function resolveRefOrUndefined(repo: AtomRepo, ref: string): Promise<string | undefined> {
  try {
    return await git().resolveRef({ fs, gitdir: repo.gitdir, ref });
  } catch {
    return undefined;
  }
}

async function readCommitOrUndefined(repo: AtomRepo, oid: string) {
  try {
    return (await git().readCommit({ fs, gitdir: repo.gitdir, oid, cache: repo.cache })).commit;
  } catch {
    return undefined;
  }
}

async function treeEntries(repo: AtomRepo, oid: string): Promise<GitTreeEntry[]> {
  return reader(repo).readTree(oid);
}

/** The tree id at `path` (`.` = the tree itself) under `treeOid`, or undefined. */
async function subtreeAt(repo: AtomRepo, treeOid: string, path: string): Promise<string | undefined> {
  let cur = treeOid;
  if (path === '.') return cur;
  for (const seg of path.split('/')) {
    const e = (await treeEntries(repo, cur)).find((x) => x.path === seg);
    if (!e || e.type !== 'tree') return undefined;
    cur = e.oid;
  }
  return cur;
}

async function writeBlob(repo: AtomRepo, bytes: Uint8Array): Promise<string> {
  return git().writeBlob({ fs, gitdir: repo.gitdir, blob: bytes });
}

async function writeTree(repo: AtomRepo, entries: GitTreeEntry[]): Promise<string> {
  return git().writeTree({ fs, gitdir: repo.gitdir, tree: entries });
}

async function writeCommit(
  repo: AtomRepo,
  tree: string,
  parents: string[],
  message: string,
): Promise<string> {
  return git().writeCommit({
    fs,
    gitdir: repo.gitdir,
    commit: { message, tree, parent: parents, author: EOS_IDENTITY, committer: EOS_IDENTITY },
  });
}

/** Writes `tree` with the entry at `path` (segments) set to a directory `oid`, creating parents. */
async function setTreePath(
  repo: AtomRepo,
  tree: string | undefined,
  path: string[],
  oid: string,
): Promise<string> {
  const entries = tree ? (await treeEntries(repo, tree)).filter((e) => e.path !== path[0]) : [];
  const existing = tree ? (await treeEntries(repo, tree)).find((e) => e.path === path[0]) : undefined;
  const child =
    path.length === 1
      ? oid
      : await setTreePath(repo, existing?.type === 'tree' ? existing.oid : undefined, path.slice(1), oid);
  entries.push({ mode: '040000', path: path[0]!, oid: child, type: 'tree' });
  return writeTree(repo, entries);
}

/** Adds a claim or publish tree to the set commit (compare-and-swap on `refs/eos/set`). */
async function addToSet(
  repo: AtomRepo,
  path: string[],
  treeOid: string,
  commit: string,
  message: string,
): Promise<string> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const old = await resolveRefOrUndefined(repo, SET_REF);
    const oldTree = old ? (await readCommitOrUndefined(repo, old))?.tree : undefined;
    const tree = await setTreePath(repo, oldTree, path, treeOid);
    const next = await writeCommit(repo, tree, old ? [old, commit] : [commit], message);
    if ((await resolveRefOrUndefined(repo, SET_REF)) !== old) continue;
    await git().writeRef({ fs, gitdir: repo.gitdir, ref: SET_REF, value: next, force: true });
    return next;
  }
  throw new AtomError(`${SET_REF}: changed concurrently five times; try again`);
}

/** Record + signature stored in a claim or publish tree. */
interface StoredRecord {
  recordBytes: Uint8Array;
  signatureBytes: Uint8Array;
  /** The `content/` subtree (publish trees only). */
  content?: string;
}

/** Reads a claim or publish tree, insisting on its exact layout. */
async function readRecordTree(
  repo: AtomRepo,
  treeOid: string,
  withContent: boolean,
  what: string,
): Promise<StoredRecord> {
  const entries = await treeEntries(repo, treeOid);
  const names = entries.map((e) => e.path).sort();
  const want = withContent ? ['content', 'record.json', 'signature.json'] : ['record.json', 'signature.json'];
  const get = (n: string) => entries.find((e) => e.path === n);
  const ok =
    names.length === want.length &&
    names.every((n, i) => n === want[i]) &&
    get('record.json')!.mode === '100644' &&
    get('signature.json')!.mode === '100644' &&
    (!withContent || get('content')!.type === 'tree');
  if (!ok)
    throw new AtomError(
      `${what}: tree holds ${names.join(', ') || 'nothing'} (expected ${want.join(', ')})`,
      {
        data: { what, check: 'layout' },
      },
    );
  const r = reader(repo);
  return {
    recordBytes: await r.readBlob(get('record.json')!.oid),
    signatureBytes: await r.readBlob(get('signature.json')!.oid),
    ...(withContent ? { content: get('content')!.oid } : {}),
  };
}

/** A claim as found in a repository. */
export interface FoundClaim {
  record: ClaimRecord;
  digest: Digest;
  /** The claim commit id. */
  commit: string;
}

/** Reads `refs/eos/claims/<label>`, or undefined when the label is not claimed. */
export async function readClaim(repo: AtomRepo, label: string): Promise<FoundClaim | undefined> {
  const commit = await resolveRefOrUndefined(repo, CLAIMS_REF + label);
  if (!commit) return undefined;
  const c = await readCommitOrUndefined(repo, commit);
  const what = `claim of ${label} (${CLAIMS_REF}${label})`;
  if (!c) throw new AtomError(`${what}: ${commit} is not a commit`, { data: { check: 'claim' } });
  const stored = await readRecordTree(repo, c.tree, false, what);
  const record = parseClaim(stored.recordBytes, what);
  return { record, digest: digestBytes(stored.recordBytes), commit };
}

/** What `claimLabel` did. */
export interface ClaimResult {
  label: string;
  key: Digest;
  claim: Digest;
  commit: string;
  /** False when the key already held the claim (nothing was written). */
  created: boolean;
}

/**
 * Claims `label` for the signer's key in the repository.
 * @throws AtomError E20 when the label is claimed by another key or is not a label
 * @see specs/atom.md §9.1
 */
export async function claimLabel(repo: AtomRepo, label: string, signer: AtomSigner): Promise<ClaimResult> {
  if (!isLabel(label)) throw new AtomError(`${JSON.stringify(label)} is not a label`, { data: { label } });
  const existing = await readClaim(repo, label);
  if (existing) {
    if (existing.record.key !== signer.key)
      throw new AtomError(`${label} is already claimed by key ${existing.record.key}`, {
        data: { label, key: existing.record.key },
      });
    return { label, key: signer.key, claim: existing.digest, commit: existing.commit, created: false };
  }
  const record: ClaimRecord = { type: CLAIM_TYPE, label, key: signer.key };
  const digest = recordDigest(record);
  const sig = await signer.sign(digest);
  const tree = await writeTree(repo, [
    { mode: '100644', path: 'record.json', oid: await writeBlob(repo, encodeRecord(record)), type: 'blob' },
    {
      mode: '100644',
      path: 'signature.json',
      oid: await writeBlob(repo, encodeCanonical(sig)),
      type: 'blob',
    },
  ]);
  const commit = await writeCommit(repo, tree, [], `eos claim ${label}\n`);
  await git().writeRef({ fs, gitdir: repo.gitdir, ref: CLAIMS_REF + label, value: commit, force: true });
  await addToSet(repo, ['claims', label], tree, commit, `eos claim ${label}\n`);
  return { label, key: signer.key, claim: digest, commit, created: true };
}

/** What `publishAtom` did. */
export interface PublishResult {
  label: string;
  version: string;
  record: PublishRecord;
  /** The publish record's digest (what locks pin). */
  digest: Digest;
  commit: string;
  /** False when exactly this record was already published (nothing was written). */
  created: boolean;
}

/**
 * Publishes the atom whose `atom.toml` is at `atomDir` (a directory inside the repository's work
 * tree) as of the commit `HEAD` points at (or `opts.commit`). Reads everything from git objects,
 * not from the work tree.
 * @throws ManifestError E16 for an invalid `atom.toml`
 * @throws AtomError E20 when the commit has no `atom.toml` at that path, the label is unclaimed or
 *   claimed by another key, or the version is already published with another record
 * @see specs/atom.md §9.2
 */
export async function publishAtom(
  repo: AtomRepo,
  atomDir: string,
  signer: AtomSigner,
  opts: { commit?: string } = {},
): Promise<PublishResult> {
  if (!repo.dir) throw new AtomError(`${repo.gitdir}: publishing needs a work tree`);
  const rel = relative(repo.dir, resolvePath(atomDir)).split(sep).join('/') || '.';
  if (!isAtomPath(rel)) throw new AtomError(`${atomDir}: not inside the repository ${repo.dir}`);
  const source = opts.commit ?? (await resolveRefOrUndefined(repo, 'HEAD'));
  if (!source) throw new AtomError(`${repo.dir}: HEAD has no commit to publish from`);
  const commit = await readCommitOrUndefined(repo, source);
  if (!commit) throw new AtomError(`${source}: not a commit`);
  const subtree = await subtreeAt(repo, commit.tree, rel);
  const manifestEntry = subtree
    ? (await treeEntries(repo, subtree)).find((e) => e.path === 'atom.toml')
    : undefined;
  if (!subtree || !manifestEntry || manifestEntry.type !== 'blob')
    throw new AtomError(
      `commit ${source.slice(0, 12)} has no ${rel === '.' ? '' : rel + '/'}atom.toml (commit it first)`,
      {
        data: { commit: source, path: rel },
      },
    );
  const manifestBytes = await reader(repo).readBlob(manifestEntry.oid);
  const manifestFile = rel === '.' ? 'atom.toml' : `${rel}/atom.toml`;
  const manifest = parseManifest(new TextDecoder().decode(manifestBytes), manifestFile);
  const { label, version } = manifest.atom;
  const who = `${label}@${version}`;
  const claim = await readClaim(repo, label);
  if (!claim)
    throw new AtomError(`${who}: ${label} is not claimed in this repository`, {
      data: { label },
      hint: `eos atom claim ${label} --key NAME`,
    });
  if (claim.record.key !== signer.key)
    throw new AtomError(`${who}: ${label} is claimed by key ${claim.record.key}, not by key ${signer.key}`, {
      data: { label, claimKey: claim.record.key, key: signer.key },
    });
  const content = await contentDigestOfGitTree(reader(repo), subtree, who);
  const record: PublishRecord = {
    type: PUBLISH_TYPE,
    label,
    version,
    source: { commit: source, path: rel },
    content: content.digest,
    manifest: digestBytes(manifestBytes),
    claim: claim.digest,
  };
  const digest = recordDigest(record);
  const ref = `${ATOMS_REF}${label}/${version}`;
  const existing = await resolveRefOrUndefined(repo, ref);
  if (existing) {
    const p = await readCommitOrUndefined(repo, existing);
    const old = p ? await readRecordTree(repo, p.tree, true, ref).catch(() => undefined) : undefined;
    if (old && digestBytes(old.recordBytes) === digest)
      return { label, version, record, digest, commit: existing, created: false };
    let detail = '';
    try {
      const r = old ? parsePublish(old.recordBytes, ref) : undefined;
      if (r)
        detail =
          r.content === record.content
            ? ` (same content, from commit ${r.source.commit.slice(0, 12)})`
            : ` with other content (${r.content}, from commit ${r.source.commit.slice(0, 12)})`;
    } catch {
      // an unreadable old record: the generic message below
    }
    throw new AtomError(
      `${who} is already published${detail || ' with another record'}; versions are immutable`,
      {
        data: { label, version, ref },
        hint: 'bump the version in atom.toml',
      },
    );
  }
  const sig = await signer.sign(digest);
  const tree = await writeTree(repo, [
    { mode: '040000', path: 'content', oid: subtree, type: 'tree' },
    { mode: '100644', path: 'record.json', oid: await writeBlob(repo, encodeRecord(record)), type: 'blob' },
    {
      mode: '100644',
      path: 'signature.json',
      oid: await writeBlob(repo, encodeCanonical(sig)),
      type: 'blob',
    },
  ]);
  const message = `eos publish ${label} ${version}\n`;
  const pub = await writeCommit(repo, tree, [source], message);
  await git().writeRef({ fs, gitdir: repo.gitdir, ref, value: pub, force: true });
  await addToSet(repo, ['atoms', label, version], tree, pub, message);
  return { label, version, record, digest, commit: pub, created: true };
}

/** A successfully verified atom. */
export interface VerifiedAtom {
  label: string;
  version: string;
  record: PublishRecord;
  /** The publish record's digest. */
  digest: Digest;
  /** The owner key (claim key = publish signer). */
  key: Digest;
  /** The key's local name in the verifier's keyring. */
  keyName: string;
  /** Files in the content tree. */
  files: number;
}

/** The check that failed (`data.check` of the AtomError). @see specs/atom.md §10 */
export type VerifyCheck =
  | 'ref'
  | 'layout'
  | 'record'
  | 'claim'
  | 'key'
  | 'signature'
  | 'trust'
  | 'content'
  | 'source'
  | 'manifest'
  | 'set';

function fail(
  who: string,
  check: VerifyCheck,
  detail: string,
  data: Record<string, unknown> = {},
  hint?: string,
): never {
  throw new AtomError(`${who}: ${detail}`, {
    data: { atom: who, check, ...data },
    ...(hint ? { hint } : {}),
  });
}

function signatureKey(bytes: Uint8Array, who: string, what: string): { sig: unknown; key: string } {
  let sig: unknown;
  try {
    sig = parseCanonical(bytes, what);
  } catch (e) {
    fail(who, 'signature', `${what}: ${(e as EosError).detail ?? String(e)}`);
  }
  const key = (sig as { key?: unknown })?.key;
  if (typeof key !== 'string') fail(who, 'signature', `${what}: no key field`);
  return { sig, key };
}

function checkSignature(
  verifier: AtomVerifier,
  who: string,
  sig: unknown,
  digest: Digest,
  what: string,
): SignatureCheck {
  try {
    return verifier.verify(sig, digest, what);
  } catch (e) {
    if (!(e instanceof EosError)) throw e;
    const reason = (e.data as { reason?: string }).reason;
    return fail(who, reason === 'untrusted' ? 'trust' : 'signature', e.detail, { reason }, e.hint);
  }
}

/**
 * Verifies a publish tree (content/, record.json, signature.json) against the repository: the
 * record, the claim chain, the signatures and key trust, the content digest recomputed from git
 * objects, the source commit's subtree and the manifest.
 * @param opts.claimTree read the claim from this claim tree (of a set commit) instead of
 *   `refs/eos/claims/<label>`
 * @throws AtomError E20 with `data.check` naming the failed check
 */
export async function verifyPublishTree(
  repo: AtomRepo,
  publishTree: string,
  expect: { label: string; version: string },
  verifier: AtomVerifier,
  opts: { claimTree?: string } = {},
): Promise<VerifiedAtom> {
  const who = `${expect.label}@${expect.version}`;
  let stored: StoredRecord;
  let record: PublishRecord;
  try {
    stored = await readRecordTree(repo, publishTree, true, 'publish tree');
    record = parsePublish(stored.recordBytes, 'record.json');
  } catch (e) {
    if (e instanceof AtomError) fail(who, (e.data.check as VerifyCheck) ?? 'record', e.detail);
    throw e;
  }
  if (record.label !== expect.label || record.version !== expect.version)
    fail(who, 'record', `the record is for ${record.label}@${record.version}`);
  const digest = digestBytes(stored.recordBytes);

  // The claim chain: the record rests on the claim the repository (or the set commit) holds.
  const claimWhere = opts.claimTree ? `the set's claims/${expect.label}` : `${CLAIMS_REF}${expect.label}`;
  let claim: { record: ClaimRecord; digest: Digest; signatureBytes: Uint8Array } | undefined;
  try {
    let tree = opts.claimTree;
    if (!tree) {
      const commit = await resolveRefOrUndefined(repo, CLAIMS_REF + expect.label);
      tree = commit ? (await readCommitOrUndefined(repo, commit))?.tree : undefined;
      if (commit && !tree) fail(who, 'claim', `${claimWhere} points at ${commit}, which is not a commit`);
    }
    if (tree) {
      const c = await readRecordTree(repo, tree, false, `claim of ${expect.label} (${claimWhere})`);
      claim = {
        record: parseClaim(c.recordBytes, `claim of ${expect.label} (${claimWhere})`),
        digest: digestBytes(c.recordBytes),
        signatureBytes: c.signatureBytes,
      };
    }
  } catch (e) {
    if (e instanceof AtomError && e.data.atom === undefined) fail(who, 'claim', e.detail);
    throw e;
  }
  if (!claim) fail(who, 'claim', `${expect.label} has no claim (${claimWhere} is missing)`);
  if (claim.record.label !== expect.label)
    fail(who, 'claim', `${claimWhere} is a claim of ${claim.record.label}`);
  if (claim.digest !== record.claim)
    fail(who, 'claim', `the record rests on claim ${record.claim}, but ${claimWhere} holds ${claim.digest}`, {
      recordClaim: record.claim,
      claim: claim.digest,
    });
  const cs = signatureKey(claim.signatureBytes, who, 'claim signature');
  if (cs.key !== claim.record.key)
    fail(who, 'claim', `the claim names key ${claim.record.key} but is signed by key ${cs.key}`);
  const ps = signatureKey(stored.signatureBytes, who, 'publish signature');
  if (ps.key !== claim.record.key)
    fail(who, 'key', `the record is signed by key ${ps.key}, not by the claim's key ${claim.record.key}`, {
      key: ps.key,
      claimKey: claim.record.key,
    });
  checkSignature(verifier, who, cs.sig, claim.digest, 'claim signature');
  const signed = checkSignature(verifier, who, ps.sig, digest, 'publish signature');

  // Content: recomputed from the git objects of the published tree.
  const content = await contentDigestOfGitTree(reader(repo), stored.content!, who);
  if (content.digest !== record.content)
    fail(
      who,
      'content',
      `content digest of the published tree is ${content.digest}, but the record says ${record.content}`,
      {
        computed: content.digest,
        recorded: record.content,
      },
    );

  // Source: the named commit exists and holds exactly this subtree at the path.
  const src = await readCommitOrUndefined(repo, record.source.commit);
  if (!src) fail(who, 'source', `source commit ${record.source.commit} is not in the repository`);
  const at = await subtreeAt(repo, src.tree, record.source.path);
  if (at !== stored.content)
    fail(
      who,
      'source',
      at
        ? `source commit ${record.source.commit.slice(0, 12)} holds tree ${at.slice(0, 12)} at ${record.source.path}, not the published ${stored.content!.slice(0, 12)}`
        : `source commit ${record.source.commit.slice(0, 12)} has no directory ${record.source.path}`,
    );

  // Manifest: the subtree's atom.toml is the one recorded and names this label and version.
  const m = (await treeEntries(repo, stored.content!)).find((e) => e.path === 'atom.toml');
  if (!m) fail(who, 'manifest', 'the published tree has no atom.toml');
  const mBytes = await reader(repo).readBlob(m.oid);
  if (digestBytes(mBytes) !== record.manifest)
    fail(
      who,
      'manifest',
      `atom.toml digests to ${digestBytes(mBytes)}, but the record says ${record.manifest}`,
    );
  let manifest;
  try {
    manifest = parseManifest(new TextDecoder().decode(mBytes), `${record.source.path}/atom.toml`);
  } catch (e) {
    if (e instanceof EosError) fail(who, 'manifest', e.detail);
    throw e;
  }
  if (manifest.atom.label !== record.label || manifest.atom.version !== record.version)
    fail(who, 'manifest', `atom.toml says ${manifest.atom.label}@${manifest.atom.version}`);
  return {
    label: record.label,
    version: record.version,
    record,
    digest,
    key: signed.key,
    keyName: signed.keyName,
    files: content.files,
  };
}

/**
 * Verifies `label@version` as published under `refs/eos/atoms/<label>/<version>`, and that the
 * set commit indexes the same publish tree.
 * @throws AtomError E20 with `data.check` naming the failed check
 * @see specs/atom.md §10
 */
export async function verifyAtom(
  repo: AtomRepo,
  label: string,
  version: string,
  verifier: AtomVerifier,
): Promise<VerifiedAtom> {
  const who = `${label}@${version}`;
  if (!isLabel(label) || !isVersion(version)) fail(who, 'ref', 'not a label@version');
  const ref = `${ATOMS_REF}${label}/${version}`;
  const oid = await resolveRefOrUndefined(repo, ref);
  if (!oid) fail(who, 'ref', `${ref} does not exist`);
  const commit = await readCommitOrUndefined(repo, oid);
  if (!commit) fail(who, 'ref', `${ref} points at ${oid}, which is not a commit`);
  const verified = await verifyPublishTree(repo, commit.tree, { label, version }, verifier);
  if (commit.parent.length !== 1 || commit.parent[0] !== verified.record.source.commit)
    fail(
      who,
      'source',
      `the publish commit ${oid.slice(0, 12)} has parent ${commit.parent.join(', ') || 'none'}, but the record names source commit ${verified.record.source.commit}`,
    );
  const set = await resolveRefOrUndefined(repo, SET_REF);
  const setCommit = set ? await readCommitOrUndefined(repo, set) : undefined;
  const indexed = setCommit ? await subtreeAt(repo, setCommit.tree, `atoms/${label}/${version}`) : undefined;
  if (indexed !== commit.tree)
    fail(
      who,
      'set',
      indexed
        ? `${SET_REF} indexes another publish tree (${indexed.slice(0, 12)}) than ${ref} (${commit.tree.slice(0, 12)})`
        : `${SET_REF} does not index ${label}@${version}`,
    );
  return verified;
}

/**
 * Verifies `label@version` as the set commit indexes it (publish and claim trees read from the set
 * commit, not from per-atom refs): what `eos lock` and a fetched set rely on.
 * @throws AtomError E20 with `data.check` naming the failed check
 */
export async function verifySetAtom(
  repo: AtomRepo,
  state: AtomSetState,
  label: string,
  version: string,
  verifier: AtomVerifier,
): Promise<VerifiedAtom> {
  const who = `${label}@${version}`;
  const tree = state.atoms.find((a) => a.label === label && a.version === version)?.tree;
  if (!tree) fail(who, 'set', `set commit ${state.commit.slice(0, 12)} does not index ${who}`);
  const claimTree = state.claims.find((c) => c.label === label)?.tree;
  if (!claimTree) fail(who, 'claim', `set commit ${state.commit.slice(0, 12)} holds no claim of ${label}`);
  return verifyPublishTree(repo, tree, { label, version }, verifier, { claimTree });
}

/** One published atom, as listed. */
export interface ListedAtom {
  label: string;
  version: string;
  /** The publish tree id (in the set commit). */
  tree: string;
}

/** The state of an atom set: its set commit and the publish trees it indexes. */
export interface AtomSetState {
  /** The commit `refs/eos/set` points at. */
  commit: string;
  /** Claimed labels (sorted) with their claim trees. */
  claims: { label: string; tree: string }[];
  /** Published atoms, sorted by label then version (semver-ascending is left to callers). */
  atoms: ListedAtom[];
  /**
   * Entries of `atoms/` that cannot be read as `atoms/<label>/<version>/` trees (a blob where a
   * tree belongs, a missing object), each naming the label (and version when known): the rest of
   * the set stays usable, and the caller reports these when they are needed.
   */
  problems: SetProblem[];
}

/** One unreadable entry of a set commit's `atoms/` tree. */
export interface SetProblem {
  label: string;
  /** Null when the whole `atoms/<label>` entry is unreadable. */
  version: string | null;
  /** What is wrong, e.g. `atoms/zlib is a blob, not a tree`. */
  detail: string;
}

/**
 * Reads the set commit (`refs/eos/set`, or a given commit) and lists what it indexes.
 * @throws NotFoundError E4 when the repository publishes nothing
 */
export async function readSetState(repo: AtomRepo, commit?: string): Promise<AtomSetState> {
  const oid = commit ?? (await resolveRefOrUndefined(repo, SET_REF));
  if (!oid) throw new NotFoundError(`${repo.gitdir}: publishes no atoms (${SET_REF} is missing)`);
  const c = await readCommitOrUndefined(repo, oid);
  if (!c) throw new NotFoundError(`${repo.gitdir}: set commit ${oid} is not in the repository`);
  const top = await treeEntries(repo, c.tree);
  const claimsTree = top.find((e) => e.path === 'claims');
  const atomsTree = top.find((e) => e.path === 'atoms');
  const claims = claimsTree
    ? (await treeEntries(repo, claimsTree.oid))
        .map((e) => ({ label: e.path, tree: e.oid }))
        .sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0))
    : [];
  const atoms: ListedAtom[] = [];
  const problems: SetProblem[] = [];
  if (atomsTree)
    for (const l of await treeEntries(repo, atomsTree.oid)) {
      if (l.type !== 'tree') {
        problems.push({ label: l.path, version: null, detail: `atoms/${l.path} is a ${l.type}, not a tree` });
        continue;
      }
      let versions: GitTreeEntry[];
      try {
        versions = await treeEntries(repo, l.oid);
      } catch (e) {
        if (!(e instanceof AtomError)) throw e;
        problems.push({ label: l.path, version: null, detail: `atoms/${l.path}: ${e.detail}` });
        continue;
      }
      for (const v of versions) {
        if (v.type !== 'tree')
          problems.push({
            label: l.path,
            version: v.path,
            detail: `atoms/${l.path}/${v.path} is a ${v.type}, not a tree`,
          });
        else atoms.push({ label: l.path, version: v.path, tree: v.oid });
      }
    }
  atoms.sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : a.version < b.version ? -1 : 1));
  return { commit: oid, claims, atoms, problems };
}

/** Reads a publish tree's record and manifest (no verification: for building the candidate universe). */
export async function readPublishTree(
  repo: AtomRepo,
  tree: string,
  what: string,
): Promise<{ record: PublishRecord; digest: Digest; manifestText: string }> {
  const stored = await readRecordTree(repo, tree, true, what);
  const record = parsePublish(stored.recordBytes, what);
  const m = (await treeEntries(repo, stored.content!)).find((e) => e.path === 'atom.toml');
  if (!m)
    throw new AtomError(`${what}: the published tree has no atom.toml`, { data: { check: 'manifest' } });
  return {
    record,
    digest: digestBytes(stored.recordBytes),
    manifestText: new TextDecoder().decode(await reader(repo).readBlob(m.oid)),
  };
}

/** Writes the git tree `oid` to `dir` (files with their exec bit, symlinks, subtrees). */
async function writeGitTree(r: GitObjectReader, oid: string, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  for (const e of await r.readTree(oid)) {
    const p = join(dir, e.path);
    if (e.type === 'tree') await writeGitTree(r, e.oid, p);
    else if (e.type === 'blob') {
      const blob = await r.readBlob(e.oid);
      if (e.mode === '120000') fs.symlinkSync(new TextDecoder().decode(blob), p);
      else fs.writeFileSync(p, blob, { mode: e.mode === '100755' ? 0o755 : 0o644 });
    }
  }
}

/**
 * Writes the content of a publish tree (its `content/` subtree) to the directory `dir` (created;
 * it should not exist) and checks that it has the pinned content digest: how `eos build` gets a
 * published atom's directory without a checkout. Every git object is read through this module's
 * reader, so a damaged repository is a named error.
 * @param expected the content digest the caller pinned (a lock's `content`)
 * @returns the content digest (the store tree digest `dir` has)
 * @throws AtomError E20 for a missing or unreadable object, a bad publish tree layout, or a
 *   content digest other than `expected` (named `check: content`)
 * @see specs/atom.md §9.4
 */
export async function exportAtomContent(
  repo: AtomRepo,
  publishTree: string,
  dir: string,
  expected: Digest,
  who: string,
): Promise<ContentDigest> {
  const stored = await readRecordTree(repo, publishTree, true, who);
  const r = reader(repo);
  const got = await contentDigestOfGitTree(r, stored.content!, who);
  if (got.digest !== expected)
    fail(who, 'content', `content digest of the published tree is ${got.digest}, but ${expected} was pinned`);
  await writeGitTree(r, stored.content!, dir);
  return got;
}

/**
 * Copies the content of a publish tree (its `content/` subtree) into a store and checks that the
 * stored tree has the expected content digest.
 * @param expected the content digest the caller pinned (a lock's `content`)
 * @throws AtomError E20 when the stored tree digests otherwise (named `check: content`)
 */
export async function putAtomContent(
  repo: AtomRepo,
  publishTree: string,
  store: ObjectStore,
  expected: Digest,
  who: string,
): Promise<ContentDigest> {
  const stored = await readRecordTree(repo, publishTree, true, who);
  const r = await putGitTree(reader(repo), stored.content!, store, who);
  if (r.digest !== expected)
    fail(who, 'content', `content digest of the published tree is ${r.digest}, but ${expected} was pinned`);
  return r;
}

/**
 * Paths under `atomDir` whose work-tree state differs from `HEAD` (modified, added, deleted,
 * changed mode, or untracked and not ignored): what `eos atom publish` does not publish. Compares
 * git blob ids of the files on disk with `HEAD`'s tree directly (no index, so no racy-stat cases).
 */
export async function uncommittedUnder(repo: AtomRepo, atomDir: string): Promise<string[]> {
  if (!repo.dir) return [];
  const root = repo.dir;
  const rel = relative(root, resolvePath(atomDir)).split(sep).join('/');
  const head = await resolveRefOrUndefined(repo, 'HEAD');
  const headTree = head ? (await readCommitOrUndefined(repo, head))?.tree : undefined;
  // path → "mode oid" in HEAD
  const want = new Map<string, string>();
  const start = headTree ? await subtreeAt(repo, headTree, rel || '.') : undefined;
  const collect = async (tree: string, prefix: string): Promise<void> => {
    for (const e of await treeEntries(repo, tree)) {
      const p = prefix ? `${prefix}/${e.path}` : e.path;
      if (e.type === 'tree') await collect(e.oid, p);
      else want.set(p, `${e.mode} ${e.oid}`);
    }
  };
  if (start) await collect(start, rel);
  const changed = new Set<string>();
  const visit = async (p: string): Promise<void> => {
    const abs = join(root, p);
    const st = fs.lstatSync(abs);
    if (st.isDirectory()) {
      if (p.split('/').pop() === '.git') return;
      for (const name of fs.readdirSync(abs).sort()) await visit(p ? `${p}/${name}` : name);
      return;
    }
    const mode = st.isSymbolicLink() ? '120000' : st.mode & 0o100 ? '100755' : '100644';
    const bytes = st.isSymbolicLink() ? Buffer.from(fs.readlinkSync(abs)) : fs.readFileSync(abs);
    const { oid } = await git().hashBlob({ object: bytes });
    const w = want.get(p);
    want.delete(p);
    if (w === `${mode} ${oid}`) return;
    if (w === undefined && (await git().isIgnored({ fs, dir: root, gitdir: repo.gitdir, filepath: p })))
      return;
    changed.add(p);
  };
  if (fs.existsSync(join(root, rel))) await visit(rel);
  for (const p of want.keys()) changed.add(p);
  return [...changed].sort();
}
