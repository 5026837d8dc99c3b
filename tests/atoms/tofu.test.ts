/**
 * A lock is trust on first use (issue 15 item 5, specs/lock.md §8): a pinned label@version that a
 * set now offers with another record or content is refused with both digests unless `--update`
 * names it; and a build refuses a lock whose content is not the one its signed record names.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  claimLabel,
  lockWorkspace,
  openRepo,
  parseLock,
  publishAtom,
  signerFromKey,
  verifierFromConfig,
  type AtomVerifier,
} from '../../atoms/index.ts';
import { loadBuildGraph } from '../../src/build/index.ts';
import { LockError } from '../../src/kernel/index.ts';
import { commitAll, makeConfig, makeRepo } from './fixture.ts';

function atom(dir: string, label: string, deps: Record<string, string>, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  const depLines = Object.entries(deps).map(([k, v]) => `${k} = "${v}"`);
  const head = ['[atom]', `label = "${label}"`, 'version = "1.3.1"', '', '[deps]', ...depLines, ''];
  writeFileSync(join(dir, 'atom.toml'), [...head, '[build]', 'recipe = "std.make"', ''].join('\n'));
  for (const [n, t] of Object.entries(files)) writeFileSync(join(dir, n), t);
}

let verifier: AtomVerifier;
let setA = '';
let setB = '';
let ws = '';

/** A set repository publishing zlib@1.3.1 with `text` in zlib.c, signed by alice. */
async function zlibSet(config: string, text: string): Promise<string> {
  const dir = makeRepo({ 'README.md': 'the atom set\n' });
  atom(join(dir, 'zlib'), 'zlib', {}, { 'zlib.c': text, Makefile: 'all:\ninstall:\n' });
  commitAll(dir, 'zlib 1.3.1');
  const repo = await openRepo(dir);
  const alice = await signerFromKey(config, 'alice');
  await claimLabel(repo, 'zlib', alice);
  await publishAtom(repo, join(dir, 'zlib'), alice);
  return dir;
}

beforeAll(async () => {
  const { config } = await makeConfig(['alice'], ['alice']);
  verifier = await verifierFromConfig(config);
  setA = await zlibSet(config, 'int deflate;\n');
  // The owner published the same version again with other content (another repository state).
  setB = await zlibSet(config, 'int deflate; int backdoor;\n');
  ws = mkdtempSync(join(tmpdir(), 'eos-tofu-ws-'));
  atom(join(ws, 'app'), 'app', { zlib: '^1.3' }, { 'app.c': 'int main;\n' });
  await lockWorkspace({ root: ws, sets: { main: `file://${setA}` }, verifier });
});

describe('re-lock trust on first use', () => {
  it('refuses a re-published zlib@1.3.1 naming both records and contents, and writes nothing', async () => {
    const before = readFileSync(join(ws, 'eos.lock'), 'utf8');
    const pinned = parseLock(before).atoms['zlib']!;
    const err = await lockWorkspace({ root: ws, sets: { main: `file://${setB}` }, verifier }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LockError);
    const msg = (err as LockError).message;
    expect(msg).toMatch(/^\[E19\] eos\.lock: zlib@1\.3\.1 was published again with other bytes/);
    expect(msg).toContain(pinned.record);
    expect(msg).toContain(pinned.content);
    expect((err as LockError).hint).toContain('eos lock --update zlib');
    expect(readFileSync(join(ws, 'eos.lock'), 'utf8')).toBe(before);
  });

  it('follows it when the user names it with --update', async () => {
    const before = parseLock(readFileSync(join(ws, 'eos.lock'), 'utf8')).atoms['zlib']!;
    const r = await lockWorkspace({ root: ws, sets: { main: `file://${setB}` }, update: ['zlib'], verifier });
    expect(r.changed).toBe(true);
    expect(r.lock.atoms['zlib']!.version).toBe('1.3.1');
    expect(r.lock.atoms['zlib']!.record).not.toBe(before.record);
  });
});

describe('eos build refuses a lock whose content is not the record’s', () => {
  it('is LockError E19 before anything is exported', async () => {
    const path = join(ws, 'eos.lock');
    const lock = readFileSync(path, 'utf8');
    const content = parseLock(lock).atoms['zlib']!.content;
    const forged = `blake3:${'0'.repeat(64)}`;
    writeFileSync(path, lock.replace(content, forged));
    const staging = mkdtempSync(join(tmpdir(), 'eos-tofu-staging-'));
    const err = await loadBuildGraph(path, staging).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockError);
    expect((err as LockError).message).toContain(`the lock pins content ${forged}, but the publish record`);
    writeFileSync(path, lock);
  });
});
