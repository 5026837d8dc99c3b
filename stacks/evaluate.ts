/**
 * Evaluating a stack on the deploying machine (I/O): compositions resolved in the local store,
 * every executable checked inside its composition's merged view, each service's world (its
 * composition plus its config files) stored, units rendered, and the deployment built and signed.
 *
 * @see specs/stack.md §4–§5
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  CompositionError,
  EosError,
  InputTooLargeError,
  NotAFileError,
  NotFoundError,
  StackError,
  digestBytes,
  readFileBounded,
  signWithKey,
  type Digest,
  type Store,
} from '../src/kernel/index.ts';
import {
  CompositionStore,
  compositionRoot,
  makeComposition,
  parseCompositionToml,
  type Composition,
} from '../composer/index.ts';
import {
  deploymentDigest,
  type BlobRef,
  type DeployedService,
  type Deployment,
  type SignedDeployment,
} from './deployment.ts';
import { parseStack, startOrder, type StackSpec } from './stack.ts';
import { mountUnitName, renderMountUnit, renderServiceUnit } from './systemd-units.ts';

/** Options of {@link evaluateStack}. */
export interface EvaluateOptions {
  /** The host root the units are rendered for (default `/var/lib/eos`). */
  hostRoot?: string;
  /** The deployment's sequence number. */
  sequence: number;
  /** Unix seconds now (the creation time). */
  nowSeconds: number;
  /** Seconds until the deployment expires (default 7 days). */
  ttlSeconds?: number;
  /** Where `fromEnv` values come from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /**
   * Builds a lock and stores its runtime composition, returning the root: how `{ lock = … }`
   * references are evaluated. The build system sits above `stacks/`, so the caller (the CLI)
   * supplies it; without it a `{ lock = … }` reference is a located error.
   */
  composeLock?: ComposeLock;
}

/**
 * Builds the lock `lock` (absolute) with the seed lock `seedLock` (absolute) and stores the runtime
 * composition of its built closure (the one `eos build --compose` writes).
 * @returns its root
 * @throws StackError (or any EosError) naming what failed; a failed build is an error
 */
export type ComposeLock = (ref: { lock: string; seedLock: string }) => Promise<Digest>;

/** The default host root. @see specs/host.md §2 */
export const DEFAULT_HOST_ROOT = '/var/lib/eos';
/** Default lifetime of a deployment: 7 days, in seconds. */
export const DEFAULT_TTL_SECONDS = 7 * 24 * 3600;

type ViewNode = { kind: 'file'; executable: boolean } | { kind: 'directory' } | { kind: 'symlink' };

/**
 * Resolves an absolute path inside a merged view tree, following symlinks (at most 40).
 * @returns the node at the path, or undefined when it does not exist
 */
export async function lookupInView(store: Store, tree: Digest, path: string): Promise<ViewNode | undefined> {
  let hops = 0;
  const walk = async (parts: string[]): Promise<ViewNode | undefined> => {
    let dir = tree;
    const stack: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const name = parts[i]!;
      if (name === '' || name === '.') continue;
      if (name === '..') {
        stack.pop();
        return walk([...stack, ...parts.slice(i + 1)]);
      }
      const t = await store.getTree(dir);
      const e = t.entries.find((x) => x.name === name);
      if (!e) return undefined;
      const last = i === parts.length - 1;
      if (e.kind === 'symlink') {
        if (++hops > 40) return undefined;
        const rest = parts.slice(i + 1);
        const target = e.target.split('/');
        return walk(e.target.startsWith('/') ? [...target, ...rest] : [...stack, ...target, ...rest]);
      }
      if (e.kind === 'file') return last ? { kind: 'file', executable: e.executable } : undefined;
      stack.push(name);
      dir = e.digest;
      if (last) return { kind: 'directory' };
    }
    return { kind: 'directory' };
  };
  return walk(path.split('/'));
}

/**
 * The world of a service: its composition plus its config files as `file` entries that win. It keeps
 * the composition's version: a swapped composition (version 2) stays version 2, its proofs with it.
 */
export function worldComposition(base: Composition, files: { path: string; blob: Digest }[]): Composition {
  if (files.length === 0) return base;
  const entries: Record<string, unknown> = { ...base.entries };
  const names: string[] = [];
  [...files]
    .sort((a, b) => (a.path < b.path ? -1 : 1))
    .forEach((f, i) => {
      let name = `config.${i}`;
      while (name in entries) name = `${name}_`;
      names.push(name);
      entries[name] = {
        at: f.path,
        node: { kind: 'file', digest: f.blob, executable: false },
        constraint: { kind: 'exact', digest: f.blob },
      };
    });
  const rest = Object.keys(base.entries)
    .filter((n) => !base.precedence.includes(n))
    .sort();
  return makeComposition(
    { version: base.version, entries, precedence: [...names, ...base.precedence, ...rest] },
    'world',
  );
}

/** The bound on a stack file read whole: 16 MiB. */
const STACK_FILE_MAX_BYTES = 16 << 20;
/** The bound on a composition file a stack names: 64 MiB, as for `eos compose FILE`. */
const COMPOSITION_FILE_MAX_BYTES = 64 << 20;

/**
 * Evaluates a stack file to a deployment, storing every object it names in the local store.
 * @throws StackError E33 located: a composition not in the store, a composition file that does not
 *   compose, a `{ lock = … }` whose lock or seed lock is missing or does not build, an executable missing from (or not executable in) its composition, a `fromEnv`
 *   variable not set; InputTooLargeError E46, NotAFileError E48 (a directory, or a FIFO no one
 *   writes) for the stack file or a composition file it names (specs/cli.md §2)
 * @see specs/stack.md §4
 */
export async function evaluateStack(
  store: Store,
  stackFile: string,
  opts: EvaluateOptions,
): Promise<{ spec: StackSpec; deployment: Deployment }> {
  const file = resolve(stackFile);
  let text: string;
  try {
    // Bounded and opened non-blocking (specs/cli.md §2): a FIFO no one writes is E48, not a hang.
    text = (await readFileBounded(file, { max: STACK_FILE_MAX_BYTES, what: 'stack file' })).toString('utf8');
  } catch (e) {
    if (e instanceof InputTooLargeError || e instanceof NotAFileError) throw e;
    throw new StackError(`${stackFile}: cannot read: ${(e as Error).message}`, { data: { file } });
  }
  const spec = parseStack(text, stackFile);
  return { spec, deployment: await evaluateSpec(store, spec, dirname(file), opts) };
}

/** {@link evaluateStack} on a parsed stack (compositions files resolved against `baseDir`). */
export async function evaluateSpec(
  store: Store,
  spec: StackSpec,
  baseDir: string,
  opts: EvaluateOptions,
): Promise<Deployment> {
  const cs = new CompositionStore(store);
  const hostRoot = (opts.hostRoot ?? DEFAULT_HOST_ROOT).replace(/\/+$/, '') || '/';
  const env = opts.env ?? process.env;
  const at = (line: number, field: string, what: string, hint?: string): never => {
    throw new StackError(`${spec.file}:${line}: ${field}: ${what}`, {
      data: { file: spec.file, line, field },
      ...(hint ? { hint } : {}),
    });
  };

  const comps: Record<string, { root: Digest; c: Composition; tree: Digest }> = {};
  for (const [name, ref] of Object.entries(spec.compositions)) {
    let root: Digest;
    try {
      if (ref.kind === 'root') root = ref.root;
      else if (ref.kind === 'lock') {
        if (!opts.composeLock)
          at(ref.line, `compositions.${name}.lock`, 'this evaluation cannot build a lock (no builder given)');
        const lock = resolve(baseDir, ref.lock);
        const seedLock = ref.seedLock ? resolve(baseDir, ref.seedLock) : join(dirname(lock), 'seed.lock');
        for (const [f, p] of [
          ['lock', lock],
          ['seedLock', seedLock],
        ] as const)
          if (!existsSync(p)) at(ref.line, `compositions.${name}.${f}`, `${p} does not exist`);
        try {
          root = await opts.composeLock!({ lock, seedLock });
        } catch (e) {
          if (e instanceof EosError) at(ref.line, `compositions.${name}.lock`, `${ref.lock}: ${e.message}`);
          throw e;
        }
      } else {
        const path = resolve(baseDir, ref.path);
        // Bounded, non-blocking (specs/cli.md §2); a missing file is located at its field.
        const bytes = await readFileBounded(path, {
          max: COMPOSITION_FILE_MAX_BYTES,
          what: 'composition file',
        }).catch((e: unknown) => {
          if (e instanceof NotFoundError)
            at(ref.line, `compositions.${name}.file`, `cannot read ${e.detail}`);
          throw e;
        });
        const authored = parseCompositionToml(bytes.toString('utf8'), ref.path);
        const c = await cs.resolveAuthored(authored, dirname(path), ref.path);
        root = (await cs.save(c)).root;
      }
      const c = await cs.load(root);
      comps[name] = { root, c, tree: (await cs.view(root)).tree };
    } catch (e) {
      if (e instanceof NotFoundError || e instanceof CompositionError)
        at(
          ref.line,
          `compositions.${name}`,
          e.detail,
          'store it with `eos compose FILE` (or `eos build --compose FILE`)',
        );
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        at(ref.line, `compositions.${name}.file`, `cannot read ${(e as Error).message}`);
      throw e;
    }
  }

  const files: Record<string, BlobRef> = {};
  for (const f of spec.files) {
    const bytes = Buffer.from(f.content, 'utf8');
    files[f.path] = { digest: await store.putBlob(bytes), size: bytes.length };
  }

  const services: Record<string, DeployedService> = {};
  const units: Record<string, BlobRef> = {};
  const putUnit = async (name: string, text: string) => {
    const bytes = Buffer.from(text, 'utf8');
    units[name] = { digest: await store.putBlob(bytes), size: bytes.length };
  };
  const enabled = spec.services.filter((s) => s.enable);
  for (const s of startOrder(enabled)) {
    const i = spec.services.indexOf(s);
    const comp = comps[s.composition]!;
    const node = await lookupInView(store, comp.tree, s.exec);
    if (!node)
      at(s.line, `services[${i}].exec`, `${s.exec} is not in composition ${s.composition} (${comp.root})`);
    else if (node.kind !== 'file' || !node.executable)
      at(
        s.line,
        `services[${i}].exec`,
        `${s.exec} in composition ${s.composition} is not an executable file`,
      );
    const resolvedEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.env)) {
      if (v.kind === 'literal') resolvedEnv[k] = v.value;
      else {
        const val = env[v.name];
        if (val === undefined)
          at(s.line, `services[${i}].env.${k}`, `fromEnv ${v.name} is not set in the deploying environment`);
        resolvedEnv[k] = val as string;
      }
    }
    const seen = s.files ?? spec.files.map((f) => f.path);
    const world = worldComposition(
      comp.c,
      seen.map((p) => ({ path: p, blob: files[p]!.digest })),
    );
    let worldRoot: Digest;
    try {
      worldRoot = world === comp.c ? comp.root : (await cs.save(world)).root;
    } catch (e) {
      if (e instanceof CompositionError)
        at(s.line, `services[${i}]`, `its config files do not fit composition ${s.composition}: ${e.detail}`);
      throw e;
    }
    if (worldRoot !== compositionRoot(world)) throw new Error('unreachable: world root');
    const unit = `${s.name}.service`;
    services[s.name] = {
      composition: s.composition,
      world: worldRoot,
      exec: s.exec,
      args: s.args,
      env: resolvedEnv,
      dependsOn: [...s.dependsOn].sort(),
      restart: s.restart,
      unit,
    };
    await putUnit(
      unit,
      renderServiceUnit(hostRoot, { name: s.name, stack: spec.name, ...services[s.name]! }),
    );
    const mount = mountUnitName(hostRoot, worldRoot);
    if (!(mount in units)) await putUnit(mount, renderMountUnit(hostRoot, worldRoot));
  }

  const compositions: Record<string, Digest> = {};
  for (const [n, c] of Object.entries(comps)) compositions[n] = c.root;
  return {
    version: 1,
    format: 'eos-deployment',
    stack: spec.name,
    channel: spec.channel,
    sequence: opts.sequence,
    createdAt: opts.nowSeconds,
    expiresAt: opts.nowSeconds + (opts.ttlSeconds ?? DEFAULT_TTL_SECONDS),
    backend: spec.backend,
    hostRoot,
    compositions,
    services: sortKeys(services),
    units: sortKeys(units),
    files,
  };
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * Signs a deployment's digest with the secret key `keyName` (purpose `deploy`).
 * @throws KeyError E9 for an unknown key
 */
export async function signDeployment(
  configDir: string,
  keyName: string,
  d: Deployment,
): Promise<SignedDeployment> {
  const sig = await signWithKey(configDir, keyName, deploymentDigest(d), 'deploy');
  return { deployment: d, signatures: [sig] };
}

/** Digest of a config file's content as {@link evaluateStack} stores it (UTF-8 bytes). */
export function configDigest(content: string): Digest {
  return digestBytes(content);
}
