/**
 * `atom.toml`: the manifest of an atom (label, version, dependencies, recipe, fixed-output
 * sources), parsed from text and validated strictly: unknown fields and wrong types are errors
 * located by line, e.g. `atom.toml:12: deps.openssl: "3.x.y" is not a version range`.
 *
 * Pure: takes the text, returns a validated `Manifest`.
 *
 * @see specs/atom.md
 */
// semver's functions one by one: the package's index loads all of its ~45 modules.
import semverValid from 'semver/functions/valid.js';
import semverValidRange from 'semver/ranges/valid.js';
import type { z } from 'zod';
import {
  ManifestError,
  isDigest,
  lazySchemas,
  parseTomlLocated,
  type Digest,
  type TomlPath,
} from '../src/kernel/index.ts';

/** Labels: lowercase ASCII words joined by `.`, `-`, `_` or `+`; at most 64 bytes. @see specs/atom.md §2 */
export const LABEL_RE = /^[a-z0-9][a-z0-9+_-]*(?:\.[a-z0-9+_-]+)*$/;

/** True when `s` is a valid atom label (usable as a TOML key, a git ref component and a file name). */
export function isLabel(s: unknown): s is string {
  return typeof s === 'string' && s.length <= 64 && LABEL_RE.test(s) && !s.endsWith('.lock');
}

/**
 * True when `s` is a version Eos accepts: strict semver 2.0 (`1.2.3`, `1.2.3-rc.1`), no leading
 * `v`, no build metadata (`+…` does not order, so two versions differing only there would clash).
 */
export function isVersion(s: unknown): s is string {
  return typeof s === 'string' && s.length <= 64 && semverValid(s) === s && !s.includes('+');
}

/** True when `s` is a version range that the `semver` package accepts (npm/cargo-style). */
export function isRange(s: unknown): s is string {
  if (typeof s !== 'string' || s.trim() === '' || s.length > 256) return false;
  try {
    return semverValidRange(s) !== null;
  } catch {
    return false;
  }
}

/** One dependency: a version range, and whether prereleases may satisfy it. */
export interface DepSpec {
  /** An npm-style semver range, e.g. `^3.2`, `>=1.2.11 <2`, `=3.0.20`. */
  range: string;
  /** Let prerelease versions satisfy the range (semver's `includePrerelease`). */
  prerelease: boolean;
}

/** A value of a recipe argument. */
export type BuildArg = string | string[] | boolean | number | Record<string, string>;

/** The `[build]` table: the recipe's name and its arguments (every other key of the table). */
export interface BuildSpec {
  /** e.g. `std.autotools`. */
  recipe: string;
  /** The recipe arguments by their TOML key, e.g. `{"configure-flags": ["--without-zstd"]}`. */
  args: Record<string, BuildArg>;
}

/** A fixed-output input of the build, pinned by digest. @see specs/atom.md §6 */
export type SourceSpec =
  | {
      kind: 'debian-source';
      package: string;
      version: string;
      digest: Digest;
      name?: string;
      unpack?: boolean;
    }
  | {
      kind: 'deb';
      package: string;
      version: string;
      arch?: string;
      digest: Digest;
      name?: string;
      unpack?: boolean;
    }
  | { kind: 'git'; url: string; commit: string; digest: Digest; name?: string; unpack?: boolean }
  | { kind: 'path'; path: string; digest: Digest; name?: string; unpack?: boolean };

/** A validated `atom.toml`. */
export interface Manifest {
  atom: { label: string; version: string; description?: string };
  /** Dependencies by label (keys sorted). */
  deps: Record<string, DepSpec>;
  /** Absent for an atom that only groups dependencies (a workspace root). */
  build?: BuildSpec;
  /** Fixed-output inputs in file order. */
  source: SourceSpec[];
  /** The fetch action (specs/fetch.md §2): a script run with the network only through the recording proxy. */
  fetch?: FetchSpec;
}

/** `[fetch]`: the script of the atom's fetch action and its environment. @see specs/fetch.md §2 */
export interface FetchSpec {
  script: string;
  env?: Record<string, string>;
}

/** The manifest's zod schema, made on first use (src/kernel/lazy-modules.ts). */
const manifestSchema = lazySchemas((z) => {
  const STRING_LIST = z.array(z.string());
  const ENV = z.record(z.string(), z.string());

  /** Argument schemas of the standard recipes; unknown keys are errors. @see specs/atom.md §5 */
  const STD_RECIPES: Record<string, z.ZodObject> = {
    'std.autotools': z.strictObject({
      'configure-flags': STRING_LIST.optional(),
      'make-flags': STRING_LIST.optional(),
      'install-flags': STRING_LIST.optional(),
      env: ENV.optional(),
    }),
    'std.make': z.strictObject({
      'make-flags': STRING_LIST.optional(),
      'install-flags': STRING_LIST.optional(),
      env: ENV.optional(),
    }),
    'std.cmake': z.strictObject({
      'cmake-flags': STRING_LIST.optional(),
      env: ENV.optional(),
    }),
    'std.meson': z.strictObject({
      'meson-flags': STRING_LIST.optional(),
      env: ENV.optional(),
    }),
    'std.shell': z.strictObject({ script: z.string().min(1), env: ENV.optional() }),
    'std.binary': z.strictObject({ env: ENV.optional() }),
  };
  const RECIPE_RE = /^[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)+$/;
  const OPEN_ARG = z.union([z.string(), STRING_LIST, z.boolean(), z.int(), ENV]);

  const label = z.string().check((ctx) => {
    if (!isLabel(ctx.value))
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `${JSON.stringify(ctx.value)} is not a label (lowercase letters, digits, . - _ +)`,
      });
  });
  const version = z.string().check((ctx) => {
    if (!isVersion(ctx.value))
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `${JSON.stringify(ctx.value)} is not a version (semver, e.g. 1.2.3 or 2.0.0-rc.1; no build metadata)`,
      });
  });
  const range = z.string().check((ctx) => {
    if (!isRange(ctx.value))
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `${JSON.stringify(ctx.value)} is not a version range`,
      });
  });
  const digest = z.string().check((ctx) => {
    if (!isDigest(ctx.value))
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `${JSON.stringify(ctx.value)} is not a digest (blake3:<64 lowercase hex>)`,
      });
  });
  const relPath = z.string().check((ctx) => {
    const p = ctx.value;
    if (
      p === '' ||
      p.startsWith('/') ||
      p.split('/').some((s) => s === '..' || s === '' || s === '.') ||
      p.includes('\0')
    )
      ctx.issues.push({
        code: 'custom',
        input: p,
        message: `${JSON.stringify(p)} is not a relative path inside the atom`,
      });
  });
  const gitCommit = z
    .string()
    .regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, 'is not a full git commit id (40 or 64 hex)');

  const common = { digest, name: label.optional(), unpack: z.boolean().optional() };
  const source = z.discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('debian-source'),
      package: z.string().min(1),
      version: z.string().min(1),
      ...common,
    }),
    z.strictObject({
      kind: z.literal('deb'),
      package: z.string().min(1),
      version: z.string().min(1),
      arch: z.string().min(1).optional(),
      ...common,
    }),
    z.strictObject({ kind: z.literal('git'), url: z.string().min(1), commit: gitCommit, ...common }),
    z.strictObject({ kind: z.literal('path'), path: relPath, ...common }),
  ]);

  const dep = z.preprocess(
    (v) => (typeof v === 'string' ? { range: v } : v),
    z.strictObject({ range, prerelease: z.boolean().optional() }),
  );

  const deps = z.record(z.string(), dep).check((ctx) => {
    for (const k of Object.keys(ctx.value))
      if (!isLabel(k))
        ctx.issues.push({
          code: 'custom',
          input: k,
          path: [k],
          message: `${JSON.stringify(k)} is not a label (lowercase letters, digits, . - _ +)`,
        });
  });

  const build = z.looseObject({ recipe: z.string() }).check((ctx) => {
    const { recipe, ...args } = ctx.value as { recipe: string } & Record<string, unknown>;
    if (!RECIPE_RE.test(recipe)) {
      ctx.issues.push({
        code: 'custom',
        input: recipe,
        path: ['recipe'],
        message: `${JSON.stringify(recipe)} is not a recipe name (e.g. std.autotools)`,
      });
      return;
    }
    const std = STD_RECIPES[recipe];
    if (recipe.startsWith('std.') && !std) {
      ctx.issues.push({
        code: 'custom',
        input: recipe,
        path: ['recipe'],
        message: `${JSON.stringify(recipe)} is not a standard recipe (${Object.keys(STD_RECIPES).join(', ')})`,
      });
      return;
    }
    const schema = std ?? z.record(z.string(), OPEN_ARG);
    const r = schema.safeParse(args, { reportInput: true });
    if (!r.success) for (const iss of r.error.issues) ctx.issues.push({ ...iss, input: iss.input } as never);
  });

  return z.strictObject({
    atom: z.strictObject({ label, version, description: z.string().optional() }),
    deps: deps.optional(),
    build: build.optional(),
    source: z.array(source).optional(),
    fetch: z.strictObject({ script: z.string().min(1), env: ENV.optional() }).optional(),
  });
});

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (v !== null && typeof v === 'object') return 'a table';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 60 ? v.slice(0, 60) + '…' : v)}`;
  return `${typeof v} ${String(v)}`;
}

function showPath(path: TomlPath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : (i > 0 ? '.' : '') + p)).join('');
}

/** The value at `path` in `doc`, or undefined. */
function at(doc: unknown, path: TomlPath): unknown {
  let v = doc;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}

/** One located problem in a manifest. */
export interface ManifestIssue {
  /** 1-based line, when the path (or an ancestor) is found in the text. */
  line?: number;
  /** Dotted path, e.g. `deps.openssl` or `source[1].digest`. */
  path: string;
  message: string;
}

function issuesOf(err: z.ZodError, doc: unknown): { path: TomlPath; message: string }[] {
  const out: { path: TomlPath; message: string }[] = [];
  for (const iss of err.issues) {
    let path = iss.path.filter((p): p is string | number => typeof p !== 'symbol');
    // A dependency given as a plain string is validated as {range}: show the key, not ".range".
    if (path.length > 1 && typeof at(doc, path.slice(0, -1)) === 'string') path = path.slice(0, -1);
    const input = (iss as { input?: unknown }).input;
    switch (iss.code) {
      case 'unrecognized_keys':
        for (const k of iss.keys) out.push({ path: [...path, k], message: 'unknown field' });
        break;
      case 'invalid_type':
        out.push({
          path,
          message:
            input === undefined
              ? 'required field is missing'
              : `expected ${iss.expected}, got ${describe(input)}`,
        });
        break;
      case 'invalid_union':
        if ((iss as { discriminator?: string }).discriminator) {
          const opts = (iss as { options?: unknown[] }).options ?? [];
          const got = at(doc, path);
          out.push({
            path,
            message:
              got === undefined
                ? `required field is missing (one of ${opts.join(', ')})`
                : `${JSON.stringify(got)} is not one of ${opts.join(', ')}`,
          });
        } else out.push({ path, message: `${describe(input)} is not allowed here` });
        break;
      case 'invalid_value':
        out.push({ path, message: `${describe(input)} is not allowed (expected ${iss.values.join(', ')})` });
        break;
      case 'invalid_format':
        out.push({ path, message: `${describe(input)} ${iss.message}` });
        break;
      default:
        out.push({ path, message: iss.message });
    }
  }
  return out;
}

/**
 * Parses and validates an `atom.toml`.
 * @param text the file's text
 * @param fileName used in error messages (e.g. `atom.toml` or `zlib/atom.toml`)
 * @returns the manifest, with `deps` keys sorted and string deps expanded to `{range, prerelease}`
 * @throws ManifestError E16 for TOML syntax errors and schema violations; the message is the first
 *   problem by line (`atom.toml:12: deps.openssl: "3.x.y" is not a version range`), `data.issues`
 *   lists them all
 * @see specs/atom.md
 */
export function parseManifest(text: string, fileName = 'atom.toml'): Manifest {
  const { doc, lineOf } = parseTomlLocated(text, fileName, ManifestError);
  const r = manifestSchema().safeParse(doc, { reportInput: true });
  if (!r.success) {
    const issues: ManifestIssue[] = issuesOf(r.error, doc).map((i) => {
      const line = lineOf(i.path);
      return { ...(line === undefined ? {} : { line }), path: showPath(i.path), message: i.message };
    });
    issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const first = issues[0]!;
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    throw new ManifestError(
      `${fileName}${first.line === undefined ? '' : `:${first.line}`}: ${first.path || '(top level)'}: ${first.message}${more}`,
      { data: { file: fileName, issues: issues as unknown as Record<string, unknown>[] } },
    );
  }
  const v = r.data;
  const depsOut: Record<string, DepSpec> = {};
  for (const k of Object.keys(v.deps ?? {}).sort()) {
    const d = v.deps![k]!;
    depsOut[k] = { range: d.range, prerelease: d.prerelease ?? false };
  }
  const out: Manifest = {
    atom: {
      label: v.atom.label,
      version: v.atom.version,
      ...(v.atom.description === undefined ? {} : { description: v.atom.description }),
    },
    deps: depsOut,
    source: (v.source ?? []).map((s) => ({ ...s, digest: s.digest as Digest }) as SourceSpec),
    ...(v.fetch
      ? { fetch: { script: v.fetch.script, ...(v.fetch.env ? { env: { ...v.fetch.env } } : {}) } }
      : {}),
  };
  if (v.build) {
    const { recipe, ...args } = v.build as { recipe: string } & Record<string, BuildArg>;
    const sorted: Record<string, BuildArg> = {};
    // A TOML table (`env`) comes from the parser with a null prototype, which canonical JSON (the
    // action key) refuses: copy it into a plain object, keys sorted.
    for (const k of Object.keys(args).sort()) {
      const a = args[k]!;
      sorted[k] =
        typeof a === 'object' && !Array.isArray(a)
          ? Object.fromEntries(Object.entries(a).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
          : a;
    }
    out.build = { recipe, args: sorted };
  }
  return out;
}
