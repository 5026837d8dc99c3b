/**
 * The standard recipes: each is one POSIX shell script in this directory, run inside the sandbox
 * as `/bin/sh /build/.eos/recipe.sh`. A recipe's identity is the blake3 of its script's bytes, so
 * editing a recipe changes every action key that uses it.
 *
 * Inputs to a recipe (environment): the sandbox's fixed variables (`SOURCE`, `BUILD`, `OUTPUT`, …),
 * `EOS_TRIPLET` (the multiarch triplet), and one variable per recipe argument of `atom.toml`'s
 * `[build]` table (specs/atom.md §5): key `configure-flags` → `EOS_CONFIGURE_FLAGS`, a string array
 * joined with newlines (one argument per line), a string as is, a boolean or integer as text; the
 * `env` table's entries are set as they are (never overriding the sandbox's fixed variables).
 *
 * @see specs/executor.md §6
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildClosureError, digestBytes, type Digest } from '../../src/kernel/index.ts';

/** The recipe names Eos ships. */
export const STD_RECIPES = [
  'std.autotools',
  'std.make',
  'std.cmake',
  'std.meson',
  'std.shell',
  'std.binary',
] as const;

/** A loaded recipe. */
export interface Recipe {
  name: string;
  /** The script's bytes. */
  script: Uint8Array;
  /** blake3 of `script`. */
  identity: Digest;
}

/** A recipe argument value (as `atom.toml` gives it). */
export type RecipeArg = string | string[] | boolean | number | Record<string, string>;

/**
 * The environment a recipe's arguments become (see the module comment).
 * @throws BuildClosureError E7 when an argument name cannot be a variable name, or `env` is not a table
 */
export function recipeEnv(args: Record<string, RecipeArg>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(args).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (k === 'env') {
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        throw new BuildClosureError('recipe argument env: expected a table of strings');
      Object.assign(out, v);
      continue;
    }
    if (!/^[a-z][a-z0-9-]*$/.test(k))
      throw new BuildClosureError(`recipe argument ${JSON.stringify(k)}: not a valid name`);
    const name = `EOS_${k.toUpperCase().replaceAll('-', '_')}`;
    if (Array.isArray(v)) out[name] = v.join('\n');
    else if (typeof v === 'object' && v !== null)
      throw new BuildClosureError(`recipe argument ${k}: only env may be a table`);
    else out[name] = String(v);
  }
  return out;
}

/** The identity of a recipe script: the digest of its bytes. */
export function recipeIdentity(script: Uint8Array): Digest {
  return digestBytes(script);
}

/**
 * The recipes read by this process: a recipe's script is installed with Eos and read once (a
 * build of many atoms asks for the same few recipes twice per atom).
 */
const loaded = new Map<string, Recipe>();

/**
 * Loads a standard recipe by name (read once per process).
 * @throws BuildClosureError E7 when no recipe has that name
 */
export function loadRecipe(name: string): Recipe {
  if (!(STD_RECIPES as readonly string[]).includes(name))
    throw new BuildClosureError(
      `recipe ${JSON.stringify(name)} does not exist (known: ${STD_RECIPES.join(', ')})`,
      {
        data: { recipe: name },
      },
    );
  let r = loaded.get(name);
  if (!r) {
    const script = readFileSync(join(import.meta.dirname, `${name}.sh`));
    r = { name, script, identity: recipeIdentity(script) };
    loaded.set(name, r);
  }
  return r;
}
