/**
 * `eos umount DIR`: unmounts a composition mounted by `eos mount` (one overlay; its image's loop
 * device is released with it).
 * @see specs/composition.md §13
 */
import { resolve } from 'node:path';
import { MountError } from '../kernel/index.ts';
import { isComposefsMount, unmountImage } from '../../composer/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Runs `eos umount DIR`. @throws MountError E23 when DIR is not a composefs mount or is busy */
export async function run(opts: GlobalOptions & { dir: string }): Promise<CommandResult> {
  const dir = resolve(opts.dir);
  if (!isComposefsMount(dir))
    throw new MountError(`${dir}: no composition is mounted here`, { data: { dir } });
  await unmountImage(dir);
  return { lines: [`unmounted\t${dir}`], json: { version: 1, dir } };
}
