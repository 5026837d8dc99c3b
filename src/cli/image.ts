/**
 * `eos image`: composefs images from the command line.
 * - `eos image --from-dump DUMP -o FILE [--min-version N] [--max-version N]` writes the image of a
 *   composefs dump (plain or gzipped); prints `ok\tFILE\tBYTES\tsha256:HEX\tfsverity:HEX`.
 * - `eos image --from-dir DIR -o FILE [--objects OBJDIR]` writes the image of a directory whose
 *   regular files redirect to objects named by fs-verity digest (copied into OBJDIR if given).
 * - `eos image --dump FILE` prints the dump of an image.
 * - `eos image ROOT -o FILE` writes the image of a stored composition (src/cli/image-root.ts).
 * @see specs/composefs.md §7
 */
import { createHash } from 'node:crypto';
import { UsageError } from '../kernel/errors.ts';
import { writeFileAtomic } from '../kernel/index.ts';
import {
  computeFsVerityDigest,
  encodeDump,
  encodeImage,
  imageVersion,
  readDumpFile,
  readImageFile,
  treeFromDirectory,
} from '../../composer/index.ts';
import type { ComposefsTree, ImageOptions } from '../../composer/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos image`. */
export interface ImageCommandOptions extends GlobalOptions {
  /** A composition root: write the image of its merged view (src/cli/image-root.ts). */
  root?: string;
  fromDump?: string;
  fromDir?: string;
  dump?: string;
  output?: string;
  objects?: string;
  minVersion?: string;
  maxVersion?: string;
}

function version(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v)) throw new UsageError(`${flag}: "${v}" is not a version number`);
  return Number(v);
}

/** Runs `eos image`. */
export async function run(opts: ImageCommandOptions): Promise<CommandResult> {
  if (opts.root !== undefined) {
    if (opts.fromDump !== undefined || opts.fromDir !== undefined || opts.dump !== undefined)
      throw new UsageError('eos image ROOT: --from-dump, --from-dir and --dump take no ROOT');
    return (await import('./image-root.ts')).run({ ...opts, root: opts.root });
  }
  const modes = [opts.fromDump, opts.fromDir, opts.dump].filter((x) => x !== undefined).length;
  if (modes !== 1) throw new UsageError('eos image: give exactly one of --from-dump, --from-dir or --dump');
  if (opts.dump !== undefined) {
    const { tree } = await readImageFile(opts.dump);
    return { raw: Buffer.from(encodeDump(tree), 'latin1') };
  }
  if (!opts.output) throw new UsageError('eos image: -o FILE is required with --from-dump and --from-dir');
  const options: ImageOptions = {};
  const min = version(opts.minVersion, '--min-version');
  const max = version(opts.maxVersion, '--max-version');
  if (min !== undefined) options.minVersion = min;
  if (max !== undefined) options.maxVersion = max;
  let tree: ComposefsTree;
  if (opts.fromDump !== undefined) tree = await readDumpFile(opts.fromDump);
  else tree = await treeFromDirectory(opts.fromDir!, opts.objects ? { objectsDir: opts.objects } : {});
  const image = encodeImage(tree, options);
  await writeFileAtomic(opts.output, image);
  const sha256 = createHash('sha256').update(image).digest('hex');
  const fsverity = Buffer.from(computeFsVerityDigest(image)).toString('hex');
  return {
    lines: [`ok\t${opts.output}\t${image.length}\tsha256:${sha256}\tfsverity:${fsverity}`],
    json: {
      version: 1,
      image: opts.output,
      sizeBytes: image.length,
      sha256,
      fsverityDigest: fsverity,
      composefsVersion: imageVersion(tree, options),
    },
  };
}
