/**
 * Stack files, pure: parsing and validating the TOML that names compositions, services and config
 * files. Every error is located (`file:line: field: …`). What needs the store (does the composition
 * exist, is the executable in it) is checked by `evaluateStack` (stacks/evaluate.ts).
 *
 * @see specs/stack.md §2–§4
 */
import { StackError, isDigest, parseTomlLocated, type Digest } from '../src/kernel/index.ts';

/** The stack format version this code reads. @see specs/stack.md §2 */
export const STACK_VERSION = 1;

/** The activation backends. @see specs/stack.md §2 */
export const BACKENDS = ['systemd', 'process'] as const;
/** One of {@link BACKENDS}. */
export type Backend = (typeof BACKENDS)[number];

/** Restart policies (systemd's names). */
export const RESTART_POLICIES = ['no', 'on-failure', 'always'] as const;
/** One of {@link RESTART_POLICIES}. */
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

/** Stack, service, channel and composition names: `^[a-z0-9][a-z0-9._-]{0,63}$`. */
export const STACK_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Where a stack names a composition: by root, by a composition TOML file, or as the runtime
 * composition of a lock (built and composed when the stack is evaluated, as `eos build --compose`
 * does; `seedLock` defaults to `seed.lock` beside the lock). Paths are relative to the stack file.
 * @see specs/stack.md §2, §4.1
 */
export type CompositionRef =
  | { kind: 'root'; root: Digest }
  | { kind: 'file'; path: string }
  | { kind: 'lock'; lock: string; seedLock?: string };

/** An environment value: a literal, or a variable of the deploying environment (resolved at deploy). */
export type EnvValue = { kind: 'literal'; value: string } | { kind: 'from-env'; name: string };

/** One service of a stack. */
export interface StackService {
  name: string;
  /** A key of {@link StackSpec.compositions}. */
  composition: string;
  /** Absolute path of the executable inside the composition. */
  exec: string;
  args: string[];
  env: Record<string, EnvValue>;
  dependsOn: string[];
  restart: RestartPolicy;
  enable: boolean;
  /** The config file paths this service sees; absent: every config file of the stack. */
  files?: string[];
  /** The line of its `[[services]]` header. */
  line: number;
}

/** One config file: an absolute path and its content (UTF-8). */
export interface StackFile {
  path: string;
  content: string;
  line: number;
}

/** A parsed, shape-checked stack. */
export interface StackSpec {
  file: string;
  name: string;
  channel: string;
  backend: Backend;
  compositions: Record<string, CompositionRef & { line: number }>;
  services: StackService[];
  files: StackFile[];
  /** Finds the line of a field (`services`, index, key) for located errors. */
  lineOf(path: (string | number)[]): number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parses and validates a stack file's text.
 * shape: see specs/stack.md §2 (top-level `version`, `name`, `channel`, `backend`, `[compositions]`,
 * `[[services]]`, `[[files]]`).
 * @param file names the file in messages
 * @throws StackError E33 located at the offending line: bad TOML, an unknown or missing field, an
 *   unknown backend (listing the supported ones), a service naming a missing composition, a
 *   `dependsOn` naming no service or forming a cycle, a relative or duplicate config path
 * @see specs/stack.md §2–§3
 */
export function parseStack(text: string, file = 'stack.toml'): StackSpec {
  const parsed = parseTomlLocated(text, file, StackError, {
    syntax: (p) => `${file}:${p.line}: not valid TOML: ${p.message}`,
  });
  const raw: Obj = parsed.doc;
  const lineOf = (path: (string | number)[]): number => parsed.lineOf(path) ?? 1;
  const fail = (path: (string | number)[], what: string, hint?: string): never => {
    const line = lineOf(path);
    const field = path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
    throw new StackError(`${file}:${line}: ${field ? `${field}: ` : ''}${what}`, {
      data: { file, line, field },
      ...(hint ? { hint } : {}),
    });
  };
  const known = (o: Obj, keys: string[], path: (string | number)[]) => {
    for (const k of Object.keys(o))
      if (!keys.includes(k)) fail([...path, k], `unknown field (known: ${keys.join(', ')})`);
  };
  const str = (v: unknown, path: (string | number)[], re?: RegExp): string => {
    if (typeof v !== 'string' || v.length === 0) fail(path, 'expected a non-empty string');
    if (re && !re.test(v as string)) fail(path, `${JSON.stringify(v)} does not match ${re.source}`);
    return v as string;
  };
  const strList = (v: unknown, path: (string | number)[]): string[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail(path, 'expected a list of strings');
    return v as string[];
  };

  known(raw, ['version', 'name', 'channel', 'backend', 'compositions', 'services', 'files'], []);
  if (raw.version !== STACK_VERSION)
    fail(['version'], `expected version = ${STACK_VERSION}, got ${JSON.stringify(raw.version ?? null)}`);
  const name = str(raw.name, ['name'], STACK_NAME_RE);
  const channel = raw.channel === undefined ? 'stable' : str(raw.channel, ['channel'], STACK_NAME_RE);
  if (typeof raw.backend !== 'string' || !(BACKENDS as readonly string[]).includes(raw.backend))
    fail(
      ['backend'],
      `backend ${JSON.stringify(raw.backend ?? null)} is not supported (supported: ${BACKENDS.join(', ')})`,
    );
  const backend = raw.backend as Backend;

  const compositions: StackSpec['compositions'] = {};
  if (raw.compositions !== undefined && !isObj(raw.compositions)) fail(['compositions'], 'expected a table');
  for (const [cname, v] of Object.entries((raw.compositions as Obj | undefined) ?? {})) {
    const p = ['compositions', cname];
    if (!STACK_NAME_RE.test(cname)) fail(p, `composition name does not match ${STACK_NAME_RE.source}`);
    const line = lineOf(p);
    if (typeof v === 'string') {
      if (!isDigest(v)) fail(p, `${JSON.stringify(v)} is not a composition root (blake3:<64 hex>)`);
      compositions[cname] = { kind: 'root', root: v as Digest, line };
    } else if (isObj(v)) {
      known(v, ['root', 'file', 'lock', 'seedLock'], p);
      if ([v.root, v.file, v.lock].filter((x) => x !== undefined).length !== 1)
        fail(p, 'give exactly one of root, file or lock');
      if (v.seedLock !== undefined && v.lock === undefined)
        fail([...p, 'seedLock'], 'seedLock goes with lock = …');
      if (v.root !== undefined) {
        if (!isDigest(v.root)) fail([...p, 'root'], `${JSON.stringify(v.root)} is not a composition root`);
        compositions[cname] = { kind: 'root', root: v.root as Digest, line };
      } else if (v.file !== undefined)
        compositions[cname] = { kind: 'file', path: str(v.file, [...p, 'file']), line };
      else
        compositions[cname] = {
          kind: 'lock',
          lock: str(v.lock, [...p, 'lock']),
          ...(v.seedLock !== undefined ? { seedLock: str(v.seedLock, [...p, 'seedLock']) } : {}),
          line,
        };
    } else fail(p, 'expected a root (string) or { root = … } / { file = … } / { lock = … }');
  }

  if (raw.files !== undefined && !Array.isArray(raw.files)) fail(['files'], 'expected [[files]] tables');
  const files: StackFile[] = [];
  ((raw.files as unknown[] | undefined) ?? []).forEach((f, i) => {
    const p = ['files', i];
    if (!isObj(f)) fail(p, 'expected a table');
    const o = f as Obj;
    known(o, ['path', 'content'], p);
    const path = str(o.path, [...p, 'path']);
    if (
      !path.startsWith('/') ||
      path.endsWith('/') ||
      path
        .split('/')
        .slice(1)
        .some((c) => c === '' || c === '.' || c === '..')
    )
      fail([...p, 'path'], `${JSON.stringify(path)} is not an absolute, normalized file path`);
    if (typeof o.content !== 'string') fail([...p, 'content'], 'expected a string');
    if (files.some((x) => x.path === path)) fail([...p, 'path'], `${path} is declared twice`);
    files.push({ path, content: o.content as string, line: lineOf(p) });
  });

  if (raw.services !== undefined && !Array.isArray(raw.services))
    fail(['services'], 'expected [[services]] tables');
  const services: StackService[] = [];
  ((raw.services as unknown[] | undefined) ?? []).forEach((s, i) => {
    const p = ['services', i];
    if (!isObj(s)) fail(p, 'expected a table');
    const o = s as Obj;
    known(o, ['name', 'composition', 'exec', 'args', 'env', 'dependsOn', 'restart', 'enable', 'files'], p);
    const sname = str(o.name, [...p, 'name'], STACK_NAME_RE);
    if (services.some((x) => x.name === sname)) fail([...p, 'name'], `service ${sname} is declared twice`);
    const comp = str(o.composition, [...p, 'composition']);
    if (!(comp in compositions))
      fail(
        [...p, 'composition'],
        `no composition named ${JSON.stringify(comp)} (declared: ${Object.keys(compositions).join(', ') || 'none'})`,
      );
    const exec = str(o.exec, [...p, 'exec']);
    if (!exec.startsWith('/'))
      fail([...p, 'exec'], `${JSON.stringify(exec)} is not an absolute path inside the composition`);
    const env: Record<string, EnvValue> = {};
    if (o.env !== undefined && !isObj(o.env)) fail([...p, 'env'], 'expected a table');
    for (const [k, v] of Object.entries((o.env as Obj | undefined) ?? {})) {
      if (!ENV_NAME_RE.test(k)) fail([...p, 'env', k], 'not a valid environment variable name');
      if (typeof v === 'string') env[k] = { kind: 'literal', value: v };
      else if (
        isObj(v) &&
        Object.keys(v).length === 1 &&
        typeof v.fromEnv === 'string' &&
        ENV_NAME_RE.test(v.fromEnv)
      )
        env[k] = { kind: 'from-env', name: v.fromEnv };
      else fail([...p, 'env', k], 'expected a string or { fromEnv = "NAME" }');
    }
    const restart = o.restart === undefined ? 'on-failure' : o.restart;
    if (typeof restart !== 'string' || !(RESTART_POLICIES as readonly string[]).includes(restart))
      fail([...p, 'restart'], `expected one of ${RESTART_POLICIES.join(', ')}`);
    if (o.enable !== undefined && typeof o.enable !== 'boolean')
      fail([...p, 'enable'], 'expected true or false');
    const svc: StackService = {
      name: sname,
      composition: comp,
      exec,
      args: strList(o.args, [...p, 'args']),
      env,
      dependsOn: strList(o.dependsOn, [...p, 'dependsOn']),
      restart: restart as RestartPolicy,
      enable: o.enable !== false,
      line: lineOf(p),
    };
    if (o.files !== undefined) {
      svc.files = strList(o.files, [...p, 'files']);
      for (const f of svc.files)
        if (!files.some((x) => x.path === f))
          fail([...p, 'files'], `${f} is not a config file of this stack`);
    }
    services.push(svc);
  });

  // dependsOn: names of enabled services, acyclic.
  const enabled = new Map(services.filter((s) => s.enable).map((s) => [s.name, s]));
  services.forEach((s, i) => {
    if (!s.enable) return;
    for (const d of s.dependsOn)
      if (!enabled.has(d))
        fail(['services', i, 'dependsOn'], `${JSON.stringify(d)} is not an enabled service of this stack`);
  });
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (n: string, trail: string[]): void => {
    if (state.get(n) === 'done') return;
    if (state.get(n) === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(n)), n];
      const idx = services.findIndex((s) => s.name === cycle[0]);
      fail(['services', idx, 'dependsOn'], `cycle ${cycle.join(' -> ')}`);
    }
    state.set(n, 'visiting');
    for (const d of enabled.get(n)!.dependsOn) visit(d, [...trail, n]);
    state.set(n, 'done');
  };
  for (const n of [...enabled.keys()].sort()) visit(n, []);

  return { file, name, channel, backend, compositions, services, files, lineOf };
}

/**
 * The enabled services in start order: dependencies first, ties by name.
 * @see specs/stack.md §3.4
 */
export function startOrder<T extends { name: string; dependsOn: string[] }>(services: readonly T[]): T[] {
  const by = new Map(services.map((s) => [s.name, s]));
  const out: T[] = [];
  const seen = new Set<string>();
  const visit = (s: T): void => {
    if (seen.has(s.name)) return;
    seen.add(s.name);
    for (const d of [...s.dependsOn].sort()) {
      const dep = by.get(d);
      if (dep) visit(dep);
    }
    out.push(s);
  };
  for (const s of [...services].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) visit(s);
  return out;
}
