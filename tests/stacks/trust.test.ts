/**
 * The host's trust checks, through the real protocol and a real `eos host serve` child: tampered
 * deployments (bad signature, untrusted or unknown key, lower sequence, expired, an object whose
 * bytes do not match its digest) are refused with E35 and a named reason, and nothing changes on
 * the host: no generation, no channel change, no object.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeployRefusedError,
  Store,
  signDigest,
  readSecretKey,
  type Signature,
} from '../../src/kernel/index.ts';
import {
  connect,
  deploy,
  deploymentDigest,
  evaluateStack,
  openTransport,
  pushRoots,
  signDeployment,
  type Deployment,
  type SignedDeployment,
  type Transport,
} from '../../stacks/index.ts';
import {
  eosCommand,
  eosOk,
  hostSnapshot,
  stackFile,
  stopServices,
  workspace,
  worldToml,
  type Ws,
} from './helpers.ts';

let ws: Ws;
let store: Store;
let t: Transport;
let base: Deployment;
const now = () => Math.floor(Date.now() / 1000);
const isRoot = process.getuid?.() === 0;

async function evaluate(conf: string, sequence: number): Promise<Deployment> {
  const f = stackFile(
    ws,
    'trust.stack.toml',
    `version = 1
name = "trust"
backend = "process"
[compositions]
base = { file = "base.toml" }
[[services]]
name = "idle"
composition = "base"
exec = "/usr/bin/sleep"
args = ["1000"]
[[files]]
path = "/etc/trust.conf"
content = "${conf}"
`,
  );
  return (await evaluateStack(store, f, { hostRoot: ws.host, sequence, nowSeconds: now() })).deployment;
}

async function refused(s: SignedDeployment): Promise<DeployRefusedError> {
  const before = hostSnapshot(ws.host);
  const e = await deploy(t, store, s, { retries: 0 }).then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(DeployRefusedError);
  expect(hostSnapshot(ws.host)).toBe(before);
  return e as DeployRefusedError;
}

beforeAll(async () => {
  ws = workspace('eos-trust-');
  worldToml(ws.dir, 'base', ['/usr/bin/sleep']);
  store = new Store(ws.store);
  t = openTransport(`local:${ws.host}`, { eosCommand });
  base = await evaluate('one', 5);
  const r = await deploy(t, store, await signDeployment(ws.config, 'ops', base));
  expect(r.result?.start).toEqual(['idle']);
});
afterAll(() => stopServices(ws.host));

describe.skipIf(!isRoot)('the host refuses tampered deployments before any transfer', () => {
  it('a bad signature', async () => {
    const s = await signDeployment(ws.config, 'ops', await evaluate('two', 6));
    const sig = s.signatures[0]!;
    const flipped = (sig.signature[0] === '0' ? '1' : '0') + sig.signature.slice(1);
    const e = await refused({ ...s, signatures: [{ ...sig, signature: flipped }] });
    expect(e.message).toMatch(/^\[E35\] .*deployment trust\/stable #6: /);
    expect(e.data.reason).toBe('signature');
  });

  it('a signature over another deployment', async () => {
    const s = await signDeployment(ws.config, 'ops', await evaluate('two', 6));
    const other = await evaluate('three', 6);
    expect((await refused({ deployment: other, signatures: s.signatures })).data.reason).toBe('signature');
  });

  it('a key the host does not trust for deploy, and a key it does not know', async () => {
    eosOk(ws, ['key', 'generate', 'intruder']);
    writeFileSync(join(ws.dir, 'intruder.pub'), eosOk(ws, ['key', 'export', 'intruder']));
    const d = await evaluate('two', 6);
    const unknown = await refused(await signDeployment(ws.config, 'intruder', d));
    expect(unknown.data.reason).toBe('untrusted');
    eosOk(ws, ['key', 'import', join(ws.dir, 'intruder.pub')], { EOS_CONFIG_DIR: join(ws.host, 'config') });
    eosOk(ws, ['key', 'trust', 'intruder', '--for', 'builds'], { EOS_CONFIG_DIR: join(ws.host, 'config') });
    const e = await refused(await signDeployment(ws.config, 'intruder', d));
    expect(e.data.reason).toBe('untrusted');
    expect(e.message).toMatch(/not trusted for "deploy"/);
    // a signature for another purpose by the trusted key does not count either
    const k = await readSecretKey(ws.config, 'ops');
    const wrongPurpose: Signature = signDigest(deploymentDigest(d), 'compositions', k.seed);
    expect((await refused({ deployment: d, signatures: [wrongPurpose] })).data.reason).toBe('signature');
    expect((await refused({ deployment: d, signatures: [] })).data.reason).toBe('untrusted');
  });

  it('a sequence not above the highest accepted (older, or the same number with other content)', async () => {
    const lower = await refused(await signDeployment(ws.config, 'ops', await evaluate('two', 4)));
    expect(lower.data.reason).toBe('sequence');
    expect(lower.message).toMatch(/sequence 4 is not above 5, the highest accepted for channel stable/);
    expect(
      (await refused(await signDeployment(ws.config, 'ops', await evaluate('two', 5)))).data.reason,
    ).toBe('sequence');
  });

  it('an expired deployment', async () => {
    const d = { ...(await evaluate('two', 6)), expiresAt: now() - 1 };
    const e = await refused(await signDeployment(ws.config, 'ops', d));
    expect(e.data.reason).toBe('expired');
    expect(e.message).toMatch(/expired at \d{4}-/);
  });

  it('a composition whose bytes do not hash to its root (a lying client)', async () => {
    const s = await signDeployment(ws.config, 'ops', await evaluate('tampered', 7));
    const before = hostSnapshot(ws.host);
    const session = await connect(t);
    await session.writer.send({ t: 'offer', signed: s, dryRun: false } as never);
    expect((await session.reader.frame()).header.t).toBe('offer-ok');
    await session.writer.send({ t: 'query', objects: pushRoots(s) });
    const lacks = (await session.reader.frame()).header.objects as [string, string][];
    const comp = lacks.find(([k]) => k === 'c');
    expect(comp).toBeDefined();
    await session.writer.send(
      { t: 'object', k: 'c', d: comp![1] },
      Buffer.from('{"entries":{},"precedence":[],"version":1}'),
    );
    const { header } = await session.reader.frame();
    expect(header.t).toBe('error');
    const err = header.error as { code: string; message: string; data: { reason: string } };
    expect(err.code).toBe('E35');
    expect(err.data.reason).toBe('object');
    expect(err.message).toMatch(/object blake3:[0-9a-f]{64} hashes to blake3:[0-9a-f]{64}: refused/);
    await session.close();
    expect(hostSnapshot(ws.host)).toBe(before);
    // the honest push of the same deployment then goes through
    const r = await deploy(t, store, s);
    expect(r.verdict.generation).toBe(2);
    expect(r.result?.restart).toEqual(['idle']);
  });
});
