/**
 * Action keys (pure): the `action_id` of a build action is the digest of the canonical encoding
 * of everything that can change its output. Dependencies enter by their OUTPUT tree digests, not
 * by their own keys, so a dependency rebuilt to identical bytes leaves its dependents' keys
 * unchanged (early cutoff).
 *
 * @see specs/action.md §1–§3
 */
import {
  EncodingError,
  digestCanonical,
  parseDigest,
  type Digest,
  type JsonValue,
} from '../src/kernel/index.ts';

/** The format name written into every action-key object. @see specs/action.md §2 */
export const ACTION_KEY_FORMAT = 'eos.action';
/** The version of the action-key object; bumping it changes every action id. @see specs/action.md §2 */
export const ACTION_KEY_VERSION = 1;

const LABEL_RE = /^[a-z0-9][a-z0-9._+-]*$/;
const WORD_RE = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * Everything that can change an action's output.
 *
 * shape: digests are `blake3:<64 hex>`; `args` is any JSON object with safe integers only;
 * `deps` maps each direct dependency's label to the digest of its output tree.
 * @see specs/action.md §2
 */
export interface ActionInputs {
  /** The atom's content digest (the source tree it builds). */
  atom: Digest;
  /** The recipe's identity digest (name plus the content of its files). */
  recipe: Digest;
  /** The recipe arguments (configure flags, targets, …), a JSON object. */
  args: { [k: string]: JsonValue };
  /** The root of the toolchain composition the action's world is made from. */
  toolchain: Digest;
  /** The seed (bootstrap trust) mode, e.g. `seeded`, `fast`, `source`, `bootstrappable`. */
  seedMode: string;
  /** The target architecture, e.g. `x86_64-linux`. */
  arch: string;
  /** Direct dependencies: label → output tree digest. */
  deps: { [label: string]: Digest };
}

/** The canonical action-key object whose digest is the action id. @see specs/action.md §2 */
export interface ActionKeyObject {
  format: typeof ACTION_KEY_FORMAT;
  version: typeof ACTION_KEY_VERSION;
  atom: Digest;
  recipe: Digest;
  args: { [k: string]: JsonValue };
  toolchain: Digest;
  seedMode: string;
  arch: string;
  deps: { [label: string]: Digest };
}

/**
 * Builds the validated action-key object (its canonical encoding is what gets hashed).
 * @throws DigestError E2 when a digest field (or a dependency's output) is not a digest
 * @throws EncodingError E3 when `args` is not a JSON object, or the seed mode, architecture or a
 *   dependency label is not a lowercase word
 * @see specs/action.md §2
 */
export function actionKeyObject(inputs: ActionInputs): ActionKeyObject {
  const { args, seedMode, arch } = inputs;
  if (args === null || typeof args !== 'object' || Array.isArray(args))
    throw new EncodingError('action key: args must be a JSON object', { data: { field: 'args' } });
  if (typeof seedMode !== 'string' || !WORD_RE.test(seedMode))
    throw new EncodingError(`action key: seedMode ${JSON.stringify(seedMode)} is not a lowercase word`, {
      data: { field: 'seedMode' },
    });
  if (typeof arch !== 'string' || !WORD_RE.test(arch))
    throw new EncodingError(`action key: arch ${JSON.stringify(arch)} is not a lowercase word`, {
      data: { field: 'arch' },
    });
  const deps: { [label: string]: Digest } = {};
  for (const [label, out] of Object.entries(inputs.deps ?? {})) {
    if (!LABEL_RE.test(label))
      throw new EncodingError(`action key: dependency label ${JSON.stringify(label)} is not a valid label`, {
        data: { field: 'deps', label },
      });
    deps[label] = parseDigest(out, `action key: output of dependency ${label}`);
  }
  return {
    format: ACTION_KEY_FORMAT,
    version: ACTION_KEY_VERSION,
    atom: parseDigest(inputs.atom, 'action key: atom'),
    recipe: parseDigest(inputs.recipe, 'action key: recipe'),
    args,
    toolchain: parseDigest(inputs.toolchain, 'action key: toolchain'),
    seedMode,
    arch,
    deps,
  };
}

/**
 * The action id: `digestCanonical(actionKeyObject(inputs))`.
 * @throws DigestError E2, EncodingError E3 as {@link actionKeyObject}, and E3 when `args` holds
 *   anything but JSON with safe integers
 * @see specs/action.md §3
 */
export function actionId(inputs: ActionInputs): Digest {
  return digestCanonical(actionKeyObject(inputs));
}
