/**
 * Running a command in a stored composition (I/O): the mounted composefs image where mounting is
 * permitted, else the cached hard-link world. The CLI's `eos run` and the executor call this.
 *
 * @see specs/composition.md §13
 */
import type { Digest } from '../src/kernel/index.ts';
import type { CompositionStore } from './compose-store.ts';
import { compositionImage } from './image-store.ts';
import {
  mountingPermitted,
  runMaterialized,
  runMounted,
  type RunOptions,
  type RunResult,
} from './world-runner.ts';

/** What {@link runComposition} did. */
export interface CompositionRun extends RunResult {
  /** `mount`: the composefs image in a private namespace; `hardlink`: the materialized world. */
  mode: 'mount' | 'hardlink';
  /** The image (mount) or world directory (hardlink) used. */
  path: string;
  /** Why mounting was not used (hardlink mode only), e.g. `not running as root`. */
  reason?: string;
}

/**
 * Runs `opts.argv` with the composition `root` as `/`.
 * @param env decides whether mounting is permitted (`EOS_NO_MOUNT=1` forces the fallback)
 * @throws NotFoundError E4, CompositionError E18, ComposefsError E14, MountError E23
 */
export async function runComposition(
  cs: CompositionStore,
  root: Digest,
  opts: RunOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CompositionRun> {
  const permitted = mountingPermitted(env);
  if (permitted.ok) {
    const image = await compositionImage(cs, root);
    const r = await runMounted(image.path, cs.store.dir('objects'), opts);
    return { ...r, mode: 'mount', path: image.path };
  }
  const world = await cs.world(root);
  const r = await runMaterialized(world.dir, opts);
  return { ...r, mode: 'hardlink', path: world.dir, reason: permitted.reason };
}
