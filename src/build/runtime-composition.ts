/**
 * `eos build --compose FILE`: the runtime composition of a built closure. Its entries are the
 * runtime part of the seed (the C library, the GCC runtime, base-files, the shells, and the seed's
 * fixups: the `/bin`, `/lib`, `/lib64` → `usr/…` links) plus every built atom's output tree, each
 * bound at `/`. Precedence mirrors the build world's rule (executor `PRECEDENCE`): outputs over the
 * fixups over seed packages, so any shadowed path is explicit and reported.
 *
 * `runtimeComposition` and `encodeRuntimeToml` are pure; `composeBuild` stores, signs and writes.
 * The TOML written is the authored form of the same composition: `eos compose FILE` on it gives
 * the same root.
 *
 * @see specs/composition.md §2, §9, §11; specs/seed.md §5
 */
import {
  CompositionStore,
  compositionRoot,
  makeComposition,
  pinRootName,
  sonameIndex,
} from '../../composer/index.ts';
import type { Composition } from '../../composer/index.ts';
import type { SeedLock } from '../../executor/index.ts';
import { compositionClosureEntries, computeClosure, storeClosureTree } from '../../extractors/index.ts';
import { CompositionError, writeFileAtomicSync, type Digest, type Store } from '../kernel/index.ts';

/**
 * The seed packages a dynamically linked C program needs at run time (those present in the seed are
 * used): base-files, the C library, the GCC runtime, and the shells of the build world, `dash`
 * (`/bin/sh`) and `bash` with its `libtinfo6`. A script's `#!` names the shell its configure found
 * in the build world (autoconf prefers bash where it is: xz's `xzgrep` is `#!/bin/bash`), so
 * every shell the world offered must be there at run time (`eos closure`: missing-interpreter).
 * Whatever else an output needs from the seed is found by {@link runtimeProviders}.
 */
export const RUNTIME_SEED_PACKAGES: readonly string[] = [
  'base-files',
  'bash',
  'dash',
  'gcc-12-base',
  'libc6',
  'libgcc-s1',
  'libtinfo6',
];

/**
 * The runtime composition of a built closure.
 * shape: entries `seed.<package>` and `seed.fixups` (seed trees) and `<label>` (output trees), all
 * at `/` with exact constraints; precedence: outputs (by label), `seed.fixups`, seed packages (in
 * the seed lock's order).
 * @param outputs output tree digest by atom label
 * @param extra seed package names taken beside {@link RUNTIME_SEED_PACKAGES} (the providers
 *   {@link runtimeProviders} found); names the seed lacks are ignored
 * @throws CompositionError E18 when an atom label collides with a seed entry name, or the seed
 *   lacks libc6
 */
export function runtimeComposition(
  seed: SeedLock,
  outputs: Record<string, Digest>,
  extra: readonly string[] = [],
): Composition {
  const entries: Record<string, unknown> = {};
  const tree = (digest: Digest) => ({
    at: '/',
    node: { kind: 'tree', digest },
    constraint: { kind: 'exact', digest },
  });
  const pkgs = seed.packages.filter((p) => RUNTIME_SEED_PACKAGES.includes(p.name) || extra.includes(p.name));
  if (!pkgs.some((p) => p.name === 'libc6'))
    throw new CompositionError('runtime composition: the seed has no libc6 package', {
      hint: 'build with a seed whose closure holds libc6 (the default Debian or host seed does)',
    });
  for (const p of pkgs) entries[`seed.${p.name}`] = tree(p.tree);
  entries['seed.fixups'] = tree(seed.fixups);
  const labels = Object.keys(outputs).sort();
  for (const l of labels) {
    if (l in entries)
      throw new CompositionError(`runtime composition: atom ${l} has the name of a seed entry`, {
        data: { name: l },
      });
    entries[l] = tree(outputs[l]!);
  }
  const precedence = [...labels, 'seed.fixups', ...pkgs.map((p) => `seed.${p.name}`)];
  return makeComposition({ version: 1, entries, precedence }, 'runtime composition');
}

/** A seed package the runtime composition takes because an output needs a file of it. */
export interface RuntimeProvider {
  /** The seed package's name (entry `seed.<package>`). */
  package: string;
  /** The path it provides (`/usr/lib/x86_64-linux-gnu/libcrypt.so.1`, `/usr/bin/perl`). */
  provides: string;
  /** The file that needs it (DT_NEEDED or `#!`), a real path of the view. */
  for: string;
}

/** A path in merged-/usr form: `/bin`, `/sbin`, `/lib*` are the seed fixups' links into `/usr`. */
function usrMerged(p: string): string {
  return p.replace(/^\/(bin|sbin|lib|lib32|lib64|libx32)(?=\/|$)/, '/usr/$1');
}

/** Every file and symlink path (merged-/usr form) of the seed packages → the packages that ship it. */
async function seedPaths(store: Store, seed: SeedLock): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const walk = async (d: Digest, at: string, pkg: string): Promise<void> => {
    for (const e of (await store.getTree(d)).entries) {
      const p = `${at}/${e.name}`;
      if (e.kind === 'directory') await walk(e.digest, p, pkg);
      else {
        const k = usrMerged(p);
        const l = out.get(k);
        if (l) l.push(pkg);
        else out.set(k, [pkg]);
      }
    }
  };
  for (const p of seed.packages) await walk(p.tree, '', p.name);
  return out;
}

/**
 * The seed packages beyond {@link RUNTIME_SEED_PACKAGES} that the outputs need at run time: the
 * closure of every output entry (specs/interface.md §10) is computed in the runtime composition,
 * and each unsatisfied `missing-soname` (at the directories the loader searched) or
 * `missing-interpreter` (an executable's `#!` or PT_INTERP) that a seed package of the build world
 * ships (its first by name) takes that package; repeated until nothing is added, so the new
 * packages' own needs are met too (perl's `libcrypt.so.1`). This is what the build world resolved
 * the same names to: nginx's `-lcrypt` is the seed's libxcrypt (`libcrypt1`), git's perl commands
 * run `/usr/bin/perl` (`perl-base`). What no seed package ships stays unsatisfied (`eos closure`).
 * @returns the extra package names (sorted) and why each was taken (sorted by package)
 * @throws CompositionError E18, NotFoundError E4 / CorruptObjectError E5 from the store
 * @see specs/scheduler.md §10.5
 */
export async function runtimeProviders(
  store: Store,
  seed: SeedLock,
  outputs: Record<string, Digest>,
): Promise<{ extra: string[]; providers: RuntimeProvider[] }> {
  const labels = Object.keys(outputs).sort();
  const extra = new Set<string>();
  const providers: RuntimeProvider[] = [];
  if (labels.length === 0) return { extra: [], providers };
  const cs = new CompositionStore(store);
  let index: Map<string, string[]> | undefined;
  // A round's composition is saved (its view is read from the store); the pins of the rounds that
  // were not the last, and that were not pinned before, are removed again.
  const pinnedBefore = new Set((await store.listRoots()).map((r) => r.name));
  const rounds: Digest[] = [];
  let fresh: string[] = [];
  // Each round adds at least one package of a finite seed, so this ends.
  for (;;) {
    const c = runtimeComposition(seed, outputs, [...extra]);
    const taken = new Set(Object.keys(c.entries));
    const { root, view } = await cs.save(c);
    rounds.push(root);
    // The first round: every output entry. A later one: only the paths the last round took (what
    // was satisfied stays so: a seed package is below every output in precedence).
    const closure = await computeClosure({
      tree: storeClosureTree(store, view.tree),
      entries: compositionClosureEntries(store, c, view.tree),
      roots: fresh.length ? { paths: fresh } : { entries: labels },
    });
    fresh = [];
    let added = false;
    for (const u of closure.unsatisfied) {
      const wanted =
        u.kind === 'missing-soname'
          ? u.searched.map((s) => `${s.replace(/ \(.*\)$/, '')}/${u.soname}`)
          : u.kind === 'missing-interpreter'
            ? u.searched
              ? u.searched.map((d) => `${d}/${u.interpreter}`)
              : [u.interpreter]
            : [];
      for (const w of wanted) {
        if (!w.startsWith('/')) continue;
        index ??= await seedPaths(store, seed);
        const pkg = (index.get(usrMerged(w)) ?? []).filter((n) => !taken.has(`seed.${n}`)).sort()[0];
        if (pkg === undefined) continue;
        extra.add(pkg);
        taken.add(`seed.${pkg}`);
        providers.push({ package: pkg, provides: w, for: u.by });
        fresh.push(w);
        added = true;
        break;
      }
    }
    if (!added) break;
  }
  const last = rounds[rounds.length - 1];
  for (const r of new Set(rounds))
    if (r !== last && !pinnedBefore.has(pinRootName(r))) await store.removeRoot(pinRootName(r));
  providers.sort((a, b) => (a.package < b.package ? -1 : a.package > b.package ? 1 : 0));
  return { extra: [...extra].sort(), providers };
}

/** The authored TOML form of a composition whose entries are all tree nodes (specs/composition.md §9). */
export function encodeRuntimeToml(c: Composition, comment: string): string {
  const out = [`# ${comment}`, `# root: ${compositionRoot(c)}`, ''];
  for (const name of Object.keys(c.entries).sort()) {
    const e = c.entries[name]!;
    if (e.node.kind !== 'tree') throw new CompositionError(`entry ${name}: only tree nodes are written here`);
    out.push(
      `[entries.${JSON.stringify(name)}]`,
      `at = ${JSON.stringify(e.at)}`,
      `tree = "${e.node.digest}"`,
      '',
    );
  }
  out.push('[precedence]', `order = [${c.precedence.map((n) => JSON.stringify(n)).join(', ')}]`, '');
  return out.join('\n');
}

/** What `composeBuild` did. */
export interface ComposeBuildResult {
  root: Digest;
  /** Key id of the signature, when signed. */
  signedBy?: Digest;
  /** Shadowed paths of the merged view (`path`, winner, losers). */
  shadowed: { path: string; winner: string; shadowed: string[] }[];
  /** The seed packages taken beyond {@link RUNTIME_SEED_PACKAGES}, and why ({@link runtimeProviders}). */
  providers: RuntimeProvider[];
}

/**
 * Stores the runtime composition of `outputs` with the seed packages they need
 * ({@link runtimeProviders}; pinned under `roots/`) and its soname index
 * (specs/interface.md §11.7, so a later `eos swap` finds it by the root), signs it with the builder
 * key for `compositions` when one is given, and writes its TOML to `file` atomically (when given).
 * @throws CompositionError E18 (a merge conflict), KeyError E9, NotFoundError E4
 */
export async function composeBuild(opts: {
  store: Store;
  seed: SeedLock;
  outputs: Record<string, Digest>;
  file?: string;
  sign?: { config: string; name: string };
}): Promise<ComposeBuildResult> {
  const { extra, providers } = await runtimeProviders(opts.store, opts.seed, opts.outputs);
  const c = runtimeComposition(opts.seed, opts.outputs, extra);
  const cs = new CompositionStore(opts.store);
  const { root, view } = await cs.save(c);
  // The swap's candidate lookup (specs/interface.md §11.7): stored now, found by the root later.
  await sonameIndex(opts.store, c);
  const sig = opts.sign ? await cs.sign(root, opts.sign.config, opts.sign.name, 'compositions') : undefined;
  if (opts.file !== undefined)
    writeFileAtomicSync(
      opts.file,
      encodeRuntimeToml(
        c,
        [
          `runtime composition of ${Object.keys(opts.outputs).sort().join(', ')} (eos build --compose)`,
          ...providers.map((p) => `seed.${p.package}: ${p.provides} for ${p.for}`),
        ].join('\n# '),
      ),
      { mkdir: true },
    );
  return { root, ...(sig ? { signedBy: sig.key } : {}), shadowed: view.shadowed, providers };
}
