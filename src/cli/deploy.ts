/**
 * `eos deploy FILE [--target URL] [--key K] [--dry-run]`: evaluates the stack, signs the
 * deployment (purpose deploy) with the next sequence number of its channel, saves it, and pushes
 * it through the target's transport. `--signed FILE` pushes a saved signed deployment as it is
 * (a replay is refused by the host's sequence check).
 *
 * Lines: `deployment DIGEST STACK/CHANNEL#SEQ FILE`, `pushed …`, one `restart|start|stop|unchanged
 * SERVICE` each, `FAIL SERVICE ERROR`, and `generation N TARGET`.
 * @see specs/stack.md §5, specs/host.md §6
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ActivationError, Store, UsageError, configDir, readFileBounded } from '../kernel/index.ts';
import {
  deploy,
  deploymentDigest,
  deploymentLabel,
  encodeSignedDeployment,
  evaluateStack,
  parseSignedDeployment,
  signDeployment,
  writeDurable,
  type SignedDeployment,
} from '../../stacks/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';
import { intArg, lockComposer, transportArg, type TargetOptions } from './stacks-args.ts';

/** Options of `eos deploy`. */
export interface DeployCommandOptions extends GlobalOptions, TargetOptions {
  file?: string;
  key?: string;
  dryRun?: boolean;
  sequence?: string;
  ttl?: string;
  signed?: string;
}

/** The sequence file of a stack's channel in the config directory: `deploy/<stack>.<channel>.sequence`. */
function sequenceFile(config: string, stack: string, channel: string): string {
  return join(config, 'deploy', `${stack}.${channel}.sequence`);
}

/** Runs `eos deploy`. @throws StackError E33, KeyError E9, DeployRefusedError E35, TransportError E36 */
export async function run(opts: DeployCommandOptions): Promise<CommandResult> {
  const t = transportArg(opts);
  const store = new Store(opts.store);
  const config = configDir();
  let signed: SignedDeployment;
  let saved: string;
  if (opts.signed) {
    saved = opts.signed;
    signed = parseSignedDeployment(
      await readFileBounded(opts.signed, { max: 64 << 20, what: 'signed deployment' }),
      opts.signed,
    );
  } else {
    if (!opts.file) throw new UsageError('eos deploy: give the stack FILE (or --signed FILE)');
    if (!opts.key)
      throw new UsageError('eos deploy: give --key NAME (the secret key that signs the deployment)');
    const now = Math.floor(Date.now() / 1000);
    const first = await evaluateStack(store, opts.file, {
      hostRoot: t.hostRoot,
      composeLock: lockComposer(store),
      sequence: 0,
      nowSeconds: now,
    });
    const seqFile = sequenceFile(config, first.spec.name, first.spec.channel);
    const last = existsSync(seqFile) ? Number(readFileSync(seqFile, 'utf8').trim()) || 0 : 0;
    const sequence = intArg(opts.sequence, '--sequence') ?? last + 1;
    const ttl = intArg(opts.ttl, '--ttl');
    const d = { ...first.deployment, sequence, ...(ttl !== undefined ? { expiresAt: now + ttl } : {}) };
    signed = await signDeployment(config, opts.key, d);
    if (!opts.dryRun) writeDurable(seqFile, `${Math.max(last, sequence)}\n`);
    saved = join(config, 'deployments', `${d.stack}.${d.channel}.${d.sequence}.json`);
    writeDurable(saved, encodeSignedDeployment(signed));
  }
  const d = signed.deployment;
  const report = await deploy(t, store, signed, { dryRun: Boolean(opts.dryRun) });
  const lines = [`deployment\t${deploymentDigest(d)}\t${deploymentLabel(d)}\t${saved}`];
  const p = report.pushed;
  if (opts.dryRun)
    lines.push(
      `lacking\t${report.lacking.length} root object(s)\t${report.lacking.map(([k, x]) => `${k}:${x}`).join(' ')}`,
    );
  else
    lines.push(
      `pushed\tcompositions=${p.compositions}\ttrees=${p.trees}\tblobs=${p.blobs}\tblob-bytes=${p.blobBytes}\ttree-bytes=${p.treeBytes}\twire-bytes=${p.wireBytes}\trounds=${p.rounds}`,
    );
  const plan = report.result ?? report.verdict.plan;
  for (const n of plan.restart) lines.push(`restart\t${n}`);
  for (const n of plan.start) lines.push(`start\t${n}`);
  for (const n of plan.stop) lines.push(`stop\t${n}`);
  for (const n of plan.unchanged) lines.push(`unchanged\t${n}`);
  const failed = report.result?.failed ?? [];
  for (const f of failed) lines.push(`FAIL\t${f.name}\t${f.error}`);
  lines.push(`${opts.dryRun ? 'would-be-generation' : 'generation'}\t${report.verdict.generation}\t${t.url}`);
  const json = { version: 1, target: t.url, saved, ...report };
  if (failed.length)
    return {
      lines,
      json,
      exitCode: ActivationError.exitCode,
      notes: [
        `eos deploy: generation ${report.verdict.generation} is current, but ${failed.length} service(s) failed to start`,
      ],
    };
  return { lines, json };
}
