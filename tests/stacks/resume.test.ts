/**
 * A dropped connection resumes: the first connection's `eos host serve` is SIGKILLed after it
 * received some of the objects; the deploy reconnects, the host names only what it still lacks
 * (the verified objects it kept), and the deploy completes.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/kernel/index.ts';
import {
  FrameReader,
  FrameWriter,
  Host,
  deploy,
  evaluateStack,
  signDeployment,
  type Header,
  type Session,
  type Transport,
} from '../../stacks/index.ts';
import { eosCommand, eosOk, stackFile, stopServices, workspace, worldToml, type Ws } from './helpers.ts';

let ws: Ws;
const isRoot = process.getuid?.() === 0;

/** A local transport whose first session's serve process is killed after `after` object frames. */
function droppingTransport(root: string, after: number): Transport & { objectsPerSession: number[] } {
  const objectsPerSession: number[] = [];
  return {
    kind: 'local',
    url: `local:${root} (dropping)`,
    hostRoot: root,
    objectsPerSession,
    open: async (): Promise<Session> => {
      const n = objectsPerSession.push(0) - 1;
      const child = spawn(eosCommand[0]!, [...eosCommand.slice(1), 'host', 'serve', '--root', root], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      child.stdin.on('error', () => undefined);
      const exited = new Promise((r) => child.on('exit', r));
      let code: number | null = null;
      child.on('exit', (c) => (code = c));
      const writer = new FrameWriter(child.stdin);
      const send = writer.send.bind(writer);
      writer.send = async (h: Header, payload?: Parameters<FrameWriter['send']>[1]) => {
        if (h.t === 'object' && ++objectsPerSession[n]! === after && n === 0) {
          await new Promise((r) => setTimeout(r, 1000)); // let serve verify and keep the first ones
          child.kill('SIGKILL');
          await exited;
        }
        return send(h, payload);
      };
      return {
        reader: new FrameReader(child.stdout, 'dropping serve'),
        writer,
        stderr: () => '',
        exitCode: () => code,
        close: async () => {
          child.stdin.end();
          await exited;
        },
      };
    },
  };
}

beforeAll(() => {
  ws = workspace('eos-resume-');
  worldToml(ws.dir, 'base', [
    '/usr/bin/dash',
    '/usr/bin/cat',
    '/usr/bin/sleep',
    '/usr/bin/ls',
    '/usr/bin/cp',
  ]);
});
afterAll(() => stopServices(ws.host));

describe.skipIf(!isRoot)('a dropped connection resumes', () => {
  it('the retry sends only what the host did not keep, and the deploy completes', async () => {
    const file = stackFile(
      ws,
      'resume.stack.toml',
      `version = 1\nname = "resume"\nbackend = "process"\n[compositions]\nbase = { file = "base.toml" }\n[[services]]\nname = "idle"\ncomposition = "base"\nexec = "/usr/bin/sleep"\nargs = ["1000"]\n`,
    );
    const store = new Store(ws.store);
    const { deployment } = await evaluateStack(store, file, {
      hostRoot: ws.host,
      sequence: 1,
      nowSeconds: Math.floor(Date.now() / 1000),
    });
    const signed = await signDeployment(ws.config, 'ops', deployment);
    const t = droppingTransport(ws.host, 6);
    const r = await deploy(t, store, signed);
    expect(r.pushed.connections).toBe(2);
    expect(r.result?.start).toEqual(['idle']);
    const [first, second] = t.objectsPerSession as [number, number];
    expect(first).toBe(6);
    // The same push to an empty host needs D objects; the retry sent D - 5: the five objects
    // received before the kill were kept.
    const hostEnv = { EOS_CONFIG_DIR: `${ws.dir}/host2/config` };
    eosOk(ws, ['key', 'import', `${ws.dir}/ops.pub`], hostEnv);
    eosOk(ws, ['key', 'trust', 'ops', '--for', 'deploy'], hostEnv);
    const fresh = droppingTransport(`${ws.dir}/host2`, 0);
    await deploy(fresh, store, signed);
    expect(second).toBe(fresh.objectsPerSession[0]! - 5);
    stopServices(`${ws.dir}/host2`);
    const host = new Host(ws.host);
    expect(host.currentNumber()).toBe(1);
    expect((await host.verify()).problems).toEqual([]);
  });
});
