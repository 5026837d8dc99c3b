/**
 * Activation (I/O): making a generation's services run. The plan is shared by every backend: a
 * service is (re)started when its unit digest differs from the one running (the unit names its
 * world root, so a changed composition or config file changes it) or it is not running; services
 * no longer in the generation are stopped; the others are left alone. Backends: `process` (each
 * service a real process under its own supervisor, in its world as `eos run` does) and `systemd`
 * (unit files written, `systemctl`).
 *
 * @see specs/host.md §9
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ActivationError, pidAlive as alive, type Digest } from '../src/kernel/index.ts';
import { compositionImage, runComposition } from '../composer/index.ts';
import type { Deployment, Generation } from './deployment.ts';
import { generationFile, writeDurable, type Host } from './host.ts';
import { startOrder } from './stack.ts';

/** What is running for a service, as a backend sees it. */
export interface RunningService {
  name: string;
  /** The digest of the unit it was started from. */
  unit: Digest;
  alive: boolean;
}

/** The activation plan. @see specs/host.md §9.1 */
export interface ActivationPlan {
  /** Services to stop and start again (unit changed), in start order. */
  restart: string[];
  /** Services to start (not running), in start order. */
  start: string[];
  /** Services to stop (no longer in the generation). */
  stop: string[];
  /** Services left running. */
  unchanged: string[];
}

/**
 * Plans an activation, pure: compares what runs with the generation's units.
 * @see specs/host.md §9.1
 */
export function planActivation(running: readonly RunningService[], d: Deployment): ActivationPlan {
  const by = new Map(running.map((r) => [r.name, r]));
  const plan: ActivationPlan = { restart: [], start: [], stop: [], unchanged: [] };
  const order = startOrder(Object.entries(d.services).map(([name, s]) => ({ name, dependsOn: s.dependsOn })));
  for (const { name } of order) {
    const s = d.services[name]!;
    const r = by.get(name);
    const unit = d.units[s.unit]!.digest;
    if (!r || !r.alive) plan.start.push(name);
    else if (r.unit !== unit) plan.restart.push(name);
    else plan.unchanged.push(name);
  }
  for (const r of running) if (!(r.name in d.services)) plan.stop.push(r.name);
  plan.stop.sort().reverse();
  return plan;
}

/** A backend's operations. */
export interface ActivationBackend {
  running(): RunningService[];
  start(g: Generation, name: string): Promise<void>;
  stop(name: string): Promise<void>;
}

/** The result of an activation, recorded as `activations/NNN.json`. */
export interface ActivationResult extends ActivationPlan {
  generation: number;
  failed: { name: string; error: string }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long a started service must stay up (ms) before activation counts it as started. */
export const START_GRACE_MS = 1000;

/**
 * The process backend: each service runs under `eos host supervise` (its own session, so neither
 * a dropped connection nor a killed deploy takes it down), which runs it in its world and applies
 * the restart policy. State: `run/<name>.json` `{pid, unit, generation}`, `run/<name>.exits`.
 * @param eosCommand argv prefix that runs `eos` (e.g. `[node, bin/eos.mjs]`)
 */
export function processBackend(host: Host, eosCommand: string[]): ActivationBackend {
  const runFile = (n: string) => host.path('run', `${n}.json`);
  const read = (n: string) => {
    try {
      return JSON.parse(readFileSync(runFile(n), 'utf8')) as {
        pid: number;
        unit: Digest;
        generation: number;
      };
    } catch {
      return undefined;
    }
  };
  return {
    running() {
      const dir = host.path('run');
      if (!existsSync(dir)) return [];
      return readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => f.slice(0, -5))
        .flatMap((name) => {
          const r = read(name);
          return r ? [{ name, unit: r.unit, alive: alive(r.pid) }] : [];
        });
    },
    async start(g, name) {
      const s = g.deployment.services[name]!;
      mkdirSync(host.path('logs'), { recursive: true });
      const log = host.path('logs', `${name}.log`);
      const fd = openSync(log, 'a');
      rmSync(host.path('run', `${name}.exits`), { force: true });
      const child = spawn(
        eosCommand[0]!,
        [
          ...eosCommand.slice(1),
          'host',
          'supervise',
          '--root',
          host.root,
          '--generation',
          String(g.generation),
          name,
        ],
        { detached: true, stdio: ['ignore', fd, fd] },
      );
      child.unref();
      const pid = child.pid;
      if (pid === undefined)
        throw new ActivationError(`service ${name}: cannot start its supervisor (log: ${log})`);
      writeDurable(
        runFile(name),
        JSON.stringify({ pid, unit: g.deployment.units[s.unit]!.digest, generation: g.generation }),
      );
      await sleep(START_GRACE_MS);
      const exits = existsSync(host.path('run', `${name}.exits`))
        ? readFileSync(host.path('run', `${name}.exits`), 'utf8')
            .trim()
            .split('\n')
        : [];
      const bad = exits.find((x) => x !== '0');
      if (!alive(pid) || bad !== undefined)
        throw new ActivationError(
          `service ${name} ${bad !== undefined ? `exited ${bad}` : 'stopped'} within ${START_GRACE_MS} ms of its start (log: ${log})`,
          { data: { service: name, log } },
        );
    },
    async stop(name) {
      const r = read(name);
      if (r && alive(r.pid)) {
        try {
          process.kill(-r.pid, 'SIGTERM');
        } catch {
          // already gone
        }
        for (let i = 0; i < 100 && alive(r.pid); i++) await sleep(50);
        if (alive(r.pid))
          try {
            process.kill(-r.pid, 'SIGKILL');
          } catch {
            // gone
          }
      }
      rmSync(runFile(name), { force: true });
    },
  };
}

/**
 * The systemd backend: unit files written to `unitDir` (default `/etc/systemd/system`), then
 * `systemctl daemon-reload` and `systemctl restart|start|stop`. Needs systemd as PID 1.
 */
export function systemdBackend(host: Host, unitDir = '/etc/systemd/system'): ActivationBackend {
  const systemctl = (...args: string[]) => {
    const r = spawnSync('systemctl', args, { encoding: 'utf8' });
    if (r.status !== 0)
      throw new ActivationError(
        `systemctl ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`,
      );
    return r.stdout;
  };
  const stateFile = (n: string) => host.path('run', `${n}.unit`);
  return {
    running() {
      const dir = host.path('run');
      if (!existsSync(dir)) return [];
      return readdirSync(dir)
        .filter((f) => f.endsWith('.unit'))
        .map((f) => {
          const name = f.slice(0, -5);
          const active = spawnSync('systemctl', ['is-active', `${name}.service`], { encoding: 'utf8' });
          return {
            name,
            unit: readFileSync(join(dir, f), 'utf8').trim() as Digest,
            alive: active.stdout.trim() === 'active',
          };
        });
    },
    async start(g, name) {
      const s = g.deployment.services[name]!;
      for (const [file, ref] of Object.entries(g.deployment.units))
        writeDurable(join(unitDir, file), await host.store.readBlob(ref.digest));
      mkdirSync(join(host.root, 'mnt', s.world.slice(7)), { recursive: true });
      systemctl('daemon-reload');
      systemctl('restart', `${name}.service`);
      writeFileSync(stateFile(name), g.deployment.units[s.unit]!.digest + '\n');
    },
    async stop(name) {
      systemctl('stop', `${name}.service`);
      rmSync(stateFile(name), { force: true });
    },
  };
}

/** Builds the composefs image of every world of a generation (before the flip). */
export async function prepareGeneration(host: Host, g: Generation): Promise<void> {
  // The host's store pins what its generations keep (specs/host.md §7): each world composition.
  for (const s of Object.values(g.deployment.services)) {
    await host.cs.pinStored(s.world);
    await compositionImage(host.cs, s.world);
  }
}

/**
 * Activates a generation: plans against what runs, stops, restarts and starts; a service that
 * fails to start is recorded and the others still run.
 * @returns the result, also written to `activations/NNN.json`
 */
export async function activateGeneration(
  host: Host,
  g: Generation,
  backend: ActivationBackend,
): Promise<ActivationResult> {
  const plan = planActivation(backend.running(), g.deployment);
  const failed: ActivationResult['failed'] = [];
  for (const n of plan.stop) await backend.stop(n);
  for (const n of [...plan.restart, ...plan.start].filter(
    (x) => plan.restart.includes(x) || plan.start.includes(x),
  )) {
    try {
      if (plan.restart.includes(n)) await backend.stop(n);
      await backend.start(g, n);
    } catch (e) {
      if (!(e instanceof ActivationError)) throw e;
      failed.push({ name: n, error: e.message });
    }
  }
  const result: ActivationResult = { generation: g.generation, ...plan, failed };
  writeDurable(host.path('activations', generationFile(g.generation)), JSON.stringify(result));
  return result;
}

/** The backend a deployment names. */
export function backendFor(host: Host, d: Deployment, eosCommand: string[]): ActivationBackend {
  return d.backend === 'systemd'
    ? systemdBackend(host, process.env.EOS_SYSTEMD_UNIT_DIR || '/etc/systemd/system')
    : processBackend(host, eosCommand);
}

/**
 * The supervisor of one process-backend service (`eos host supervise`): runs the service in its
 * world (mounted composefs image, or the hard-link world where mounting is not permitted) and
 * applies its restart policy until SIGTERM. Each exit status is appended to `run/<name>.exits`.
 * @throws HostError E37 for an unknown generation or service
 */
export async function superviseService(host: Host, generation: number, name: string): Promise<number> {
  const g = host.readGeneration(generation);
  const s = g.deployment.services[name];
  if (!s) throw new ActivationError(`generation ${generation} has no service ${name}`);
  let stopping = false;
  process.on('SIGTERM', () => {
    stopping = true;
  });
  const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...s.env };
  // The activator records our pid in run/<name>.json right after starting us; if it was killed
  // before that, nobody owns this supervisor: end rather than run a service nothing can stop.
  const owned = () => {
    try {
      return (
        (JSON.parse(readFileSync(host.path('run', `${name}.json`), 'utf8')) as { pid: number }).pid ===
        process.pid
      );
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 50 && !owned(); i++) await sleep(100);
  for (;;) {
    if (!owned()) return 0;
    const r = await runComposition(host.cs, s.world, {
      argv: [s.exec, ...s.args],
      env,
      stdio: 'inherit',
      network: true, // a service serves: it keeps the host's network
    });
    writeFileSync(host.path('run', `${name}.exits`), `${r.exitCode}\n`, { flag: 'a' });
    if (stopping) return 0;
    if (s.restart === 'no' || (s.restart === 'on-failure' && r.exitCode === 0)) return r.exitCode;
    await sleep(1000);
    if (stopping) return 0;
  }
}
