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
import { CompositionStore, compositionRoot, makeComposition, sonameIndex } from '../../composer/index.ts';
import type { Composition } from '../../composer/index.ts';
import type { SeedLock } from '../../executor/index.ts';
import { CompositionError, writeFileAtomicSync, type Digest, type Store } from '../kernel/index.ts';

/**
 * The seed packages a dynamically linked C program needs at run time (those present in the seed are
 * used): base-files, the C library, the GCC runtime, and the shells of the build world, `dash`
 * (`/bin/sh`) and `bash` with its `libtinfo6`. A script's `#!` names the shell its configure found
 * in the build world (autoconf prefers bash where it is: xz's `xzgrep` is `#!/bin/bash`), so
 * every shell the world offered must be there at run time (`eos closure`: missing-interpreter).
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
 * at `/` with exact constraints; precedence: outputs (by label), `seed.fixups`, seed packages.
 * @param outputs output tree digest by atom label
 * @throws CompositionError E18 when an atom label collides with a seed entry name, or the seed
 *   lacks libc6
 */
export function runtimeComposition(seed: SeedLock, outputs: Record<string, Digest>): Composition {
  const entries: Record<string, unknown> = {};
  const tree = (digest: Digest) => ({
    at: '/',
    node: { kind: 'tree', digest },
    constraint: { kind: 'exact', digest },
  });
  const pkgs = seed.packages.filter((p) => RUNTIME_SEED_PACKAGES.includes(p.name));
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
}

/**
 * Stores the runtime composition of `outputs` (pinned under `roots/`) and its soname index
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
  const c = runtimeComposition(opts.seed, opts.outputs);
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
        `runtime composition of ${Object.keys(opts.outputs).sort().join(', ')} (eos build --compose)`,
      ),
      { mkdir: true },
    );
  return { root, ...(sig ? { signedBy: sig.key } : {}), shadowed: view.shadowed };
}
