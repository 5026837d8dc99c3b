/**
 * Deployments and generations, pure: the canonical deployment object a stack evaluates to, its
 * digest, the signed envelope that travels to hosts, and the generation record a host writes.
 *
 * @see specs/stack.md §5 (deployment), specs/host.md §3 (generation)
 */
import {
  DeploymentError,
  EncodingError,
  digestCanonical,
  encodeCanonical,
  isDigest,
  parseCanonical,
  validateSignature,
  type Digest,
  type Signature,
} from '../src/kernel/index.ts';
import { BACKENDS, RESTART_POLICIES, STACK_NAME_RE, type Backend, type RestartPolicy } from './stack.ts';

/** The deployment format version. @see specs/stack.md §5 */
export const DEPLOYMENT_VERSION = 1;
/** The generation record format version. @see specs/host.md §3 */
export const GENERATION_VERSION = 1;

/** A blob named by a deployment: its digest and length in bytes. */
export interface BlobRef {
  digest: Digest;
  size: number;
}

/** One service of a deployment, with everything resolved. */
export interface DeployedService {
  /** The stack's composition name it runs in. */
  composition: string;
  /** The root of the composition the service runs with as `/`: its composition plus its config files. */
  world: Digest;
  exec: string;
  args: string[];
  /** Resolved environment (values from the deploying environment are substituted). */
  env: Record<string, string>;
  dependsOn: string[];
  restart: RestartPolicy;
  /** The file name of its rendered unit, a key of {@link Deployment.units}. */
  unit: string;
}

/**
 * A deployment: what one `eos deploy` asks a host to make live.
 * shape: see specs/stack.md §5; times are Unix seconds.
 */
export interface Deployment {
  version: 1;
  format: 'eos-deployment';
  stack: string;
  channel: string;
  /** Monotonic per channel: a host refuses one not above the highest it accepted. */
  sequence: number;
  createdAt: number;
  expiresAt: number;
  backend: Backend;
  /** The host root the units were rendered for. */
  hostRoot: string;
  compositions: Record<string, Digest>;
  services: Record<string, DeployedService>;
  /** Rendered unit files by file name (`tls.service`, `var-lib-eos-mnt-….mount`). */
  units: Record<string, BlobRef>;
  /** Config files by absolute path. */
  files: Record<string, BlobRef>;
}

/** A deployment with its detached signatures (purpose `deploy`), as pushed to hosts and saved. */
export interface SignedDeployment {
  deployment: Deployment;
  signatures: Signature[];
}

/** The generation record `generations/NNN.json`. @see specs/host.md §3 */
export interface Generation {
  version: 1;
  format: 'eos-generation';
  generation: number;
  digest: Digest;
  deployment: Deployment;
  signatures: Signature[];
  /** Config file digests by path (also in the deployment; kept here for drift checks). */
  files: Record<string, Digest>;
  /** Unix seconds when the host accepted it. */
  acceptedAt: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function bad(what: string, detail: string): never {
  throw new DeploymentError(`${what}: ${detail}`, { data: { what } });
}

function exactKeys(o: Obj, keys: string[], what: string): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) bad(what, `unknown field ${JSON.stringify(k)}`);
  for (const k of keys) if (!(k in o)) bad(what, `missing field ${JSON.stringify(k)}`);
}

function blobRef(v: unknown, what: string): BlobRef {
  if (!isObj(v)) bad(what, 'expected {digest, size}');
  exactKeys(v, ['digest', 'size'], what);
  if (!isDigest(v.digest)) bad(what, 'digest is not a digest');
  if (!isInt(v.size)) bad(what, 'size is not a non-negative integer');
  return { digest: v.digest, size: v.size };
}

const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/**
 * Validates a value as a deployment (every field, no others).
 * @throws DeploymentError E34 naming the field
 * @see specs/stack.md §5
 */
export function validateDeployment(v: unknown, what = 'deployment'): Deployment {
  if (!isObj(v)) bad(what, 'expected an object');
  if (v.version !== DEPLOYMENT_VERSION) bad(what, `unknown deployment version ${JSON.stringify(v.version)}`);
  exactKeys(
    v,
    [
      'version',
      'format',
      'stack',
      'channel',
      'sequence',
      'createdAt',
      'expiresAt',
      'backend',
      'hostRoot',
      'compositions',
      'services',
      'units',
      'files',
    ],
    what,
  );
  if (v.format !== 'eos-deployment') bad(what, 'format is not "eos-deployment"');
  for (const k of ['stack', 'channel'] as const)
    if (typeof v[k] !== 'string' || !STACK_NAME_RE.test(v[k])) bad(what, `${k} is not a name`);
  for (const k of ['sequence', 'createdAt', 'expiresAt'] as const)
    if (!isInt(v[k])) bad(what, `${k} is not a non-negative integer`);
  if (!(BACKENDS as readonly unknown[]).includes(v.backend)) bad(what, 'unknown backend');
  if (typeof v.hostRoot !== 'string' || !v.hostRoot.startsWith('/')) bad(what, 'hostRoot is not absolute');
  if (!isObj(v.compositions)) bad(what, 'compositions is not an object');
  for (const [k, r] of Object.entries(v.compositions))
    if (!isDigest(r)) bad(what, `compositions.${k} is not a root`);
  if (!isObj(v.units) || !isObj(v.files) || !isObj(v.services))
    bad(what, 'units, files, services must be objects');
  for (const [k, r] of Object.entries(v.units)) blobRef(r, `${what}: units.${k}`);
  for (const [k, r] of Object.entries(v.files)) {
    if (!k.startsWith('/')) bad(what, `files: ${k} is not absolute`);
    blobRef(r, `${what}: files.${k}`);
  }
  for (const [k, s] of Object.entries(v.services)) {
    const w = `${what}: services.${k}`;
    if (!STACK_NAME_RE.test(k)) bad(w, 'not a service name');
    if (!isObj(s)) bad(w, 'expected an object');
    exactKeys(s, ['composition', 'world', 'exec', 'args', 'env', 'dependsOn', 'restart', 'unit'], w);
    if (typeof s.composition !== 'string' || !(s.composition in (v.compositions as Obj)))
      bad(w, 'composition names no composition of the deployment');
    if (!isDigest(s.world)) bad(w, 'world is not a root');
    if (typeof s.exec !== 'string' || !s.exec.startsWith('/')) bad(w, 'exec is not absolute');
    if (!strings(s.args) || !strings(s.dependsOn)) bad(w, 'args and dependsOn are lists of strings');
    for (const d of s.dependsOn as string[])
      if (!(d in v.services)) bad(w, `dependsOn names no service ${d}`);
    if (!isObj(s.env) || Object.values(s.env).some((x) => typeof x !== 'string'))
      bad(w, 'env is not a string map');
    if (!(RESTART_POLICIES as readonly unknown[]).includes(s.restart)) bad(w, 'unknown restart policy');
    if (typeof s.unit !== 'string' || !(s.unit in (v.units as Obj)))
      bad(w, 'unit names no unit of the deployment');
  }
  return v as unknown as Deployment;
}

/** The canonical bytes of a deployment. @see specs/stack.md §5.2 */
export function encodeDeployment(d: Deployment): Uint8Array {
  return encodeCanonical(d);
}

/** A deployment's digest: the BLAKE3 of its canonical bytes (what its signatures sign). */
export function deploymentDigest(d: Deployment): Digest {
  return digestCanonical(d);
}

/** Short name for messages: `web/prod #4`. */
export function deploymentLabel(d: Deployment): string {
  return `${d.stack}/${d.channel} #${d.sequence}`;
}

/**
 * Validates a signed deployment envelope `{deployment, signatures}` (signatures each validated;
 * not verified here).
 * @throws DeploymentError E34
 */
export function validateSignedDeployment(v: unknown, what = 'signed deployment'): SignedDeployment {
  if (!isObj(v)) bad(what, 'expected an object');
  exactKeys(v, ['deployment', 'signatures'], what);
  if (!Array.isArray(v.signatures)) bad(what, 'signatures is not a list');
  const deployment = validateDeployment(v.deployment, `${what}: deployment`);
  const signatures = v.signatures.map((s, i) => {
    try {
      return validateSignature(s, `${what}: signatures[${i}]`);
    } catch (e) {
      if (e instanceof EncodingError) bad(what, e.detail);
      throw e;
    }
  });
  return { deployment, signatures };
}

/** Canonical bytes of a signed deployment file. */
export function encodeSignedDeployment(s: SignedDeployment): Uint8Array {
  return encodeCanonical(s);
}

/** Canonical JSON bytes decoded, a failure as DeploymentError E34. */
function canonicalOrBad(bytes: Uint8Array, what: string): unknown {
  try {
    return parseCanonical(bytes, what);
  } catch (e) {
    if (e instanceof EncodingError) bad(what, e.detail);
    throw e;
  }
}

/**
 * Parses a signed deployment file (canonical JSON).
 * @throws DeploymentError E34 (also for bytes not in canonical form)
 */
export function parseSignedDeployment(bytes: Uint8Array, what = 'signed deployment'): SignedDeployment {
  return validateSignedDeployment(canonicalOrBad(bytes, what), what);
}

/** Builds a generation record. */
export function makeGeneration(n: number, s: SignedDeployment, acceptedAt: number): Generation {
  const files: Record<string, Digest> = {};
  for (const [p, r] of Object.entries(s.deployment.files)) files[p] = r.digest;
  return {
    version: 1,
    format: 'eos-generation',
    generation: n,
    digest: deploymentDigest(s.deployment),
    deployment: s.deployment,
    signatures: s.signatures,
    files,
    acceptedAt,
  };
}

/**
 * Parses a generation record's bytes and checks its digest matches its deployment.
 * @throws DeploymentError E34
 * @see specs/host.md §3
 */
export function parseGeneration(bytes: Uint8Array, what = 'generation'): Generation {
  const v = canonicalOrBad(bytes, what);
  if (!isObj(v)) bad(what, 'expected an object');
  if (v.version !== GENERATION_VERSION) bad(what, `unknown generation version ${JSON.stringify(v.version)}`);
  exactKeys(
    v,
    ['version', 'format', 'generation', 'digest', 'deployment', 'signatures', 'files', 'acceptedAt'],
    what,
  );
  if (v.format !== 'eos-generation' || !isInt(v.generation) || !isInt(v.acceptedAt))
    bad(what, 'bad header fields');
  const s = validateSignedDeployment({ deployment: v.deployment, signatures: v.signatures }, what);
  if (v.digest !== deploymentDigest(s.deployment)) bad(what, 'digest does not match its deployment');
  return v as unknown as Generation;
}

/** Every digest a deployment pins on a host: compositions, worlds, units and files. */
export function deploymentRoots(d: Deployment): { compositions: Digest[]; blobs: Digest[] } {
  const comps = new Set<Digest>(Object.values(d.compositions));
  for (const s of Object.values(d.services)) comps.add(s.world);
  const blobs = new Set<Digest>();
  for (const r of [...Object.values(d.units), ...Object.values(d.files)]) blobs.add(r.digest);
  return { compositions: [...comps].sort(), blobs: [...blobs].sort() };
}
