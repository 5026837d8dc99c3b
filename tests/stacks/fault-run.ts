/**
 * The deploy fault run, shared by tests/stacks/fault.test.ts (8 kills) and
 * bench/deploy/fault.ts (200): SIGKILL a real `eos deploy` (its process group: the CLI and the
 * `eos host serve` it runs) and the detached activator at a random moment (kill k of n in the
 * k-th n-th of one deploy's span, so the kills cover the whole deploy; every other kill waits for
 * the host to show a given phase under way), then check that the
 * host is whole: `current` names the previous generation unless the new one was completely
 * written and flipped, `eos host verify` finds nothing, and the next deploy succeeds with every
 * service running from its units. Each kill is classified by the host state it left.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/kernel/index.ts';
import {
  Host,
  deploy,
  evaluateStack,
  generationFile,
  openTransport,
  signDeployment,
} from '../../stacks/index.ts';
import { eosBin, eosCommand, stackFile, workspace, worldToml, type Ws } from './helpers.ts';

/** Where a kill landed, judged from what it left on the host. */
export type Phase = 'before-offer' | 'push' | 'generation-write' | 'flip' | 'activation' | 'after';

/** The outcome of a fault run. */
export interface FaultReport {
  kills: number;
  phases: Record<Phase, number>;
  /** Problems found after kills (empty when every check held). */
  failures: string[];
  seconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids of `eos host activate` processes for this host root (the detached activators). */
function activators(root: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (cmd.includes('activate') && cmd.includes(root) && cmd.some((c) => c.endsWith('eos.mjs')))
        out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

function objectCount(root: string): number {
  const d = join(root, 'store', 'objects');
  if (!existsSync(d)) return 0;
  return readdirSync(d).reduce((n, s) => n + readdirSync(join(d, s)).length, 0);
}

/** The phases a targeted kill waits for, in turn. */
const TARGETS = ['push', 'generation-write', 'flip', 'activation'] as const;

/** Whether the host shows `phase` under way for a deploy that started at generation `prev`. */
function showsPhase(
  root: string,
  host: Host,
  phase: (typeof TARGETS)[number],
  prev: number,
  objectsBefore: number,
): boolean {
  try {
    const nums = host.generationNumbers();
    const madeNew = (nums[nums.length - 1] ?? 0) > prev;
    const cur = host.currentNumber();
    switch (phase) {
      case 'push':
        return !madeNew && objectCount(root) > objectsBefore;
      case 'generation-write':
        return !madeNew && existsSync(join(root, 'pending.json'));
      case 'flip':
        return madeNew && cur === prev;
      case 'activation':
        return cur !== undefined && cur > prev && !existsSync(join(root, 'activations', generationFile(cur)));
    }
  } catch {
    return false; // read while the deploy writes: look again
  }
}

function stackText(i: number): string {
  return `version = 1
name = "fault"
backend = "process"
[compositions]
base = { file = "base.toml" }
[[services]]
name = "svc"
composition = "base"
exec = "/usr/bin/sh"
args = ["-c", "cat /etc/fault.conf; exec sleep 100000"]
[[services]]
name = "steady"
composition = "base"
exec = "/usr/bin/sleep"
args = ["100000"]
files = []
[[files]]
path = "/etc/fault.conf"
content = "iteration ${i}\\n${'x'.repeat(20_000 + i)}\\n"
`;
}

/**
 * Runs `kills` killed deploys, each followed by the checks and a clean deploy.
 * @param delayMs `EOS_FAULT_DELAY_MS` for the activator (widens the generation-write, flip and
 *   activation windows so that random kills land in them too)
 */
export async function faultRun(
  kills: number,
  opts: { delayMs?: number; log?: (s: string) => void } = {},
): Promise<FaultReport> {
  const t0 = Date.now();
  const ws: Ws = workspace('eos-fault-');
  worldToml(ws.dir, 'base', ['/usr/bin/dash', '/usr/bin/cat', '/usr/bin/sleep']);
  const store = new Store(ws.store);
  const host = new Host(ws.host);
  const t = openTransport(`local:${ws.host}`, { eosCommand });
  const file = join(ws.dir, 'fault.stack.toml');
  let seq = 0;
  const cleanDeploy = async (i: number) => {
    writeFileSync(file, stackText(i));
    seq = Math.max(seq, Number(existsSync(seqFile()) ? readFileSync(seqFile(), 'utf8') : 0)) + 1;
    writeFileSync(seqFile(), `${seq}\n`);
    const { deployment } = await evaluateStack(store, file, {
      hostRoot: ws.host,
      sequence: seq,
      nowSeconds: Math.floor(Date.now() / 1000),
    });
    return deploy(t, store, await signDeployment(ws.config, 'ops', deployment));
  };
  const seqFile = () => join(ws.config, 'deploy', 'fault.stable.sequence');
  stackFile(ws, 'fault.stack.toml', stackText(0));
  await import('node:fs').then((fs) => fs.mkdirSync(join(ws.config, 'deploy'), { recursive: true }));
  await cleanDeploy(0);

  // Measure one whole CLI deploy (with the activator's pauses) to spread the kills over it.
  const env = {
    ...process.env,
    EOS_STORE: ws.store,
    EOS_CONFIG_DIR: ws.config,
    EOS_FAULT_DELAY_MS: String(opts.delayMs ?? 500),
  };
  const runDeploy = () =>
    spawn(process.execPath, [eosBin, 'deploy', file, '--key', 'ops', '--target', `local:${ws.host}`], {
      env,
      detached: true,
      stdio: 'ignore',
    });
  writeFileSync(file, stackText(1));
  const m0 = Date.now();
  await new Promise((r) => runDeploy().on('exit', r));
  const spanMs = Date.now() - m0;
  opts.log?.(
    `one deploy takes ${spanMs} ms; killing at a uniform random point of each of ${kills} equal slices of [0, ${spanMs}] ms`,
  );

  const phases: Record<Phase, number> = {
    'before-offer': 0,
    push: 0,
    'generation-write': 0,
    flip: 0,
    activation: 0,
    after: 0,
  };
  const failures: string[] = [];
  for (let k = 0; k < kills; k++) {
    const i = k + 2;
    writeFileSync(file, stackText(i));
    const prev = host.currentNumber()!;
    const objectsBefore = objectCount(ws.host);
    const child = runDeploy();
    const exited = new Promise((r) => child.on('exit', r));
    let done = false;
    void exited.then(() => (done = true));
    if (k % 2 === 0) {
      // Stratified: kill k lands at a uniform random point of the k-th of `kills` equal slices of
      // the deploy, so even a short run spreads its kills over push, write, flip and activation.
      await sleep(((k + Math.random()) / kills) * spanMs);
    } else {
      // Targeted: every other kill waits until the host shows a phase under way (push, write,
      // flip, activation in turn), so a loaded machine, which stretches the CLI's start and moves
      // every phase later than the measured span says, still gets kills inside each phase.
      const target = TARGETS[((k - 1) / 2) % TARGETS.length]!;
      while (!done && !showsPhase(ws.host, host, target, prev, objectsBefore)) await sleep(5);
    }
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // it finished already
    }
    for (const pid of activators(ws.host)) process.kill(pid, 'SIGKILL');
    await exited;
    for (let w = 0; w < 50 && activators(ws.host).some(alive); w++) await sleep(20);

    // Classify by what the kill left.
    const nums = host.generationNumbers();
    const newest = nums[nums.length - 1]!;
    const cur = host.currentNumber()!;
    const madeNew = newest > prev;
    let phase: Phase;
    if (!madeNew)
      phase = existsSync(join(ws.host, 'pending.json'))
        ? 'generation-write'
        : objectCount(ws.host) > objectsBefore
          ? 'push'
          : 'before-offer';
    else if (cur === prev) phase = 'flip';
    else if (!existsSync(join(ws.host, 'activations', generationFile(cur)))) phase = 'activation';
    else phase = 'after';
    phases[phase]++;

    const fail = (s: string) => failures.push(`kill ${k} (${phase}): ${s}`);
    if (!madeNew && cur !== prev)
      fail(`current is ${cur}, previous was ${prev}, and no new generation exists`);
    if (madeNew && cur !== prev && cur !== newest) fail(`current is ${cur}, neither ${prev} nor ${newest}`);
    const g = host.readGeneration(cur);
    await host.checkPresent(g).catch((e: Error) => fail(e.message));
    const v = await host.verify();
    for (const p of v.problems) fail(`verify: ${p}`);
    try {
      const r = await cleanDeploy(i);
      if (r.result?.failed.length) fail(`next deploy: ${JSON.stringify(r.result.failed)}`);
      const after = host.readGeneration(host.currentNumber()!);
      for (const [name, s] of Object.entries(after.deployment.services)) {
        const run = JSON.parse(readFileSync(join(ws.host, 'run', `${name}.json`), 'utf8')) as {
          pid: number;
          unit: string;
        };
        if (run.unit !== after.deployment.units[s.unit]!.digest)
          fail(`${name} runs another unit than generation ${after.generation}'s`);
        if (!alive(run.pid)) fail(`${name} is not running after the next deploy`);
      }
    } catch (e) {
      fail(`next deploy failed: ${(e as Error).message}`);
    }
    opts.log?.(`kill ${k + 1}/${kills}: ${phase}`);
  }
  // stop the run's services
  for (const f of readdirSync(join(ws.host, 'run')).filter((x) => x.endsWith('.json'))) {
    const { pid } = JSON.parse(readFileSync(join(ws.host, 'run', f), 'utf8')) as { pid: number };
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  return { kills, phases, failures, seconds: Math.round((Date.now() - t0) / 1000) };
}
