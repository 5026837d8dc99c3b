/**
 * The standard recipes: each is one POSIX shell script in this directory, run inside the sandbox
 * as `/bin/sh /build/.eos/recipe.sh`. A recipe's identity is the blake3 of its script's bytes, so
 * editing a recipe changes every action key that uses it.
 *
 * Inputs to a recipe (environment): the sandbox's fixed variables (`SOURCE`, `BUILD`, `OUTPUT`, …),
 * `EOS_TRIPLET` (the multiarch triplet), `EOS_ARGS` (recipe arguments, one per line), and for
 * `std.shell` `EOS_SCRIPT` (the command).
 *
 * @see specs/executor.md §6
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildClosureError, digestBytes, type Digest } from '../../src/index.ts';

/** The recipe names Eos ships. */
export const STD_RECIPES = ['std.autotools', 'std.make', 'std.cmake', 'std.shell', 'std.binary'] as const;

/** A loaded recipe. */
export interface Recipe {
  name: string;
  /** The script's bytes. */
  script: Uint8Array;
  /** blake3 of `script`. */
  identity: Digest;
}

/** The identity of a recipe script: the digest of its bytes. */
export function recipeIdentity(script: Uint8Array): Digest {
  return digestBytes(script);
}

/**
 * Loads a standard recipe by name.
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
  const script = readFileSync(join(import.meta.dirname, `${name}.sh`));
  return { name, script, identity: recipeIdentity(script) };
}
