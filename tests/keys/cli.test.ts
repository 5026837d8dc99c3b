// The key commands end to end: real keys and files in temporary config directories, the real
// `eos` executable (bin/eos.mjs) spawned for every step.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { digestBytes } from '../../src/kernel/index.ts';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'eos.mjs');
const tmp = mkdtempSync(join(tmpdir(), 'eos-keys-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `eos ARGS` with `$EOS_CONFIG_DIR=config` (through `sh -c` when a umask is given). */
function eos(config: string, args: string[], opts: { input?: string; umask?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, EOS_CONFIG_DIR: config, EOS_DEBUG: '' };
    const child = opts.umask
      ? spawn('sh', ['-c', `umask ${opts.umask}; exec "$0" "$@"`, bin, ...args], { env, cwd: root })
      : spawn(process.execPath, [bin, ...args], { env, cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** The one `eos:` error line of stderr (npm may add unrelated warnings; there are none here). */
function errorLine(r: Run): string {
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('eos: '));
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
  return lines[0]!;
}

const D = digestBytes('the object');
const OTHER = digestBytes('another object');

describe('eos key / sign / verify-signature', () => {
  const a = join(tmp, 'a');
  const b = join(tmp, 'b');
  const sigFile = join(tmp, 'sig.json');

  it('generate makes a 0600 secret key (even with umask 000), sign, then verify after trust', async () => {
    const g = await eos(a, ['key', 'generate', 'alice'], { umask: '000' });
    expect(g.code, g.stderr).toBe(0);
    const [name, id] = g.stdout.trim().split('\t');
    expect(name).toBe('alice');
    expect(id).toMatch(/^blake3:[0-9a-f]{64}$/);
    const keys = join(a, 'keys');
    expect(statSync(join(keys, 'alice.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(keys, 'alice.pub')).mode & 0o777).toBe(0o644);
    expect(statSync(keys).mode & 0o077).toBe(0);
    expect(readdirSync(keys).sort()).toEqual(['alice.key', 'alice.pub']); // no temporaries left

    const s = await eos(a, ['sign', D, '--key', 'alice', '--for', 'builds']);
    expect(s.code, s.stderr).toBe(0);
    const sig = JSON.parse(s.stdout);
    expect(sig).toMatchObject({ version: 1, purpose: 'builds', signed: D, key: id });
    expect(s.stdout).toBe(JSON.stringify(sig) + '\n'); // canonical: keys already sorted, no spaces
    writeFileSync(sigFile, s.stdout);

    // Valid, but trusted for nothing yet.
    const v0 = await eos(a, ['verify-signature', D, sigFile, '--for', 'builds']);
    expect(v0.code).toBe(1);
    expect(errorLine(v0)).toMatch(/\[E10\] .* not trusted for "builds" \(trusted for: nothing\)/);

    const t = await eos(a, ['key', 'trust', 'alice', '--for', 'builds']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toBe(`alice\t${id}\tbuilds\n`);
    const v = await eos(a, ['verify-signature', D, sigFile, '--for', 'builds']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toBe(`ok\t${D}\t${id}\talice\tbuilds\n`);

    const l = await eos(a, ['key', 'list', '--json']);
    expect(JSON.parse(l.stdout)).toEqual({
      version: 1,
      keys: [{ name: 'alice', key: id, kind: 'secret', trustedFor: ['builds'] }],
    });
  });

  it('rejects: untrusted for the purpose while trusted for another, wrong digest, flipped bit, unknown key', async () => {
    const sd = await eos(a, ['sign', D, '--key', 'alice', '--for', 'deploy']);
    const deploySig = join(tmp, 'deploy.json');
    writeFileSync(deploySig, sd.stdout);
    const sig = JSON.parse(readFileSync(sigFile, 'utf8'));
    const bytes = Buffer.from(sig.signature, 'hex');
    bytes[3]! ^= 0x10;
    const flipped = join(tmp, 'flipped.json');
    writeFileSync(flipped, JSON.stringify({ ...sig, signature: bytes.toString('hex') }) + '\n');
    const bobSig = join(tmp, 'bob.json');
    const makeBob = async () => {
      const gb = await eos(b, ['key', 'generate', 'bob']);
      expect(gb.code, gb.stderr).toBe(0);
      writeFileSync(bobSig, (await eos(b, ['sign', D, '--key', 'bob', '--for', 'builds'])).stdout);
    };
    // Independent runs, in parallel to keep the suite fast.
    const [u, w, p, f, m] = await Promise.all([
      eos(a, ['verify-signature', D, deploySig, '--for', 'deploy']),
      eos(a, ['verify-signature', OTHER, sigFile, '--for', 'builds']),
      eos(a, ['verify-signature', D, sigFile, '--for', 'atoms']),
      eos(a, ['verify-signature', D, flipped, '--for', 'builds']),
      eos(a, ['verify-signature', D, '-', '--for', 'builds'], { input: '{"version":1}' }),
      makeBob(),
    ]);
    const k = await eos(a, ['verify-signature', D, bobSig, '--for', 'builds']);
    for (const r of [u, w, p, f, m, k]) expect(r.code, r.stderr).toBe(1);
    // untrusted for deploy while trusted for builds
    expect(errorLine(u)).toMatch(
      /\[E10\] .*deploy\.json by key blake3:\w+ \("alice"\) is valid but the key is not trusted for "deploy" \(trusted for: builds\)/,
    );
    expect(errorLine(w)).toMatch(
      new RegExp(`\\[E10\\] .* signs ${D}, not the expected ${OTHER} \\(wrong digest\\)`),
    );
    expect(errorLine(p)).toMatch(/made for "builds", not "atoms" \(wrong purpose\)/);
    expect(errorLine(f)).toMatch(
      /\[E10\] .*flipped\.json by key .* over blake3:\w+ does not verify \(bad signature\)/,
    );
    expect(errorLine(k)).toMatch(
      new RegExp(`which is not in the keyring ${join(a, 'keys')} \\(unknown key\\)`),
    );
    expect(errorLine(m)).toMatch(/\[E10\] signature from stdin: missing field "key" \(malformed signature\)/);
  });

  it('export/import round trip between two config dirs (file and stdin), then verify there', async () => {
    const e = await eos(a, ['key', 'export', 'alice']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toBe(readFileSync(join(a, 'keys', 'alice.pub'), 'utf8'));
    expect(e.stdout).toMatch(/^eos-public-key-v1 ed25519 [0-9a-f]{64} alice\n$/);
    const exported = join(tmp, 'alice.pub.txt');
    writeFileSync(exported, e.stdout);

    const i = await eos(b, ['key', 'import', exported]);
    expect(i.code, i.stderr).toBe(0);
    const aliceId = JSON.parse(readFileSync(sigFile, 'utf8')).key;
    expect(i.stdout).toBe(`alice\t${aliceId}\n`);
    // the same key again, under another name, from stdin: refused, naming the existing name
    const again = await eos(b, ['key', 'import', '-', '--name', 'alice2'], { input: e.stdout });
    expect(again.code).toBe(1);
    expect(errorLine(again)).toMatch(/\[E9\] key blake3:\w+ from stdin is already in .* as "alice"/);

    expect((await eos(b, ['key', 'trust', aliceId, '--for', 'builds,atoms'])).code).toBe(0);
    const v = await eos(b, ['verify-signature', D, sigFile, '--for', 'builds']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toBe(`ok\t${D}\t${aliceId}\talice\tbuilds\n`);
    const l = await eos(b, ['key', 'list']);
    expect(l.stdout.split('\n').filter(Boolean).sort()).toEqual([
      `alice\t${aliceId}\tpublic\tatoms,builds`,
      expect.stringMatching(/^bob\tblake3:\w+\tsecret\t-$/),
    ]);
    // an imported key has no secret to sign with
    const s = await eos(b, ['sign', D, '--key', 'alice', '--for', 'builds']);
    expect(errorLine(s)).toMatch(/\[E9\] key "alice" in .* is a public key only/);
    // untrust by key id
    const u = await eos(b, ['key', 'untrust', aliceId, '--for', 'builds']);
    expect(u.stdout).toBe(`alice\t${aliceId}\tatoms\n`);
  });

  it('refuses duplicate, bad and missing key names with E9 naming the key and directory', async () => {
    const dir = join(a, 'keys');
    const d = await eos(a, ['key', 'generate', 'alice']);
    expect(d.code).toBe(1);
    expect(errorLine(d)).toBe(`eos: [E9] a key named "alice" already exists in ${dir}`);
    expect(readFileSync(join(dir, 'alice.pub'), 'utf8')).toMatch(/ alice\n$/);
    const imp = await eos(a, ['key', 'import', join(tmp, 'bob-export.txt')]);
    expect(errorLine(imp)).toMatch(/\[E4\] .*bob-export\.txt: no such file/);
    writeFileSync(join(tmp, 'bob-export.txt'), readFileSync(join(b, 'keys', 'bob.pub')));
    const dup = await eos(a, ['key', 'import', join(tmp, 'bob-export.txt'), '--name', 'alice']);
    expect(errorLine(dup)).toBe(`eos: [E9] a key named "alice" already exists in ${dir}`);
    const bads = ['../evil', 'a/b']; // the full name rule is tested in verify.test.ts
    const runs = await Promise.all(bads.map((bad) => eos(a, ['key', 'generate', bad])));
    bads.forEach((bad, i) => {
      expect(runs[i]!.code).toBe(1);
      expect(errorLine(runs[i]!)).toContain(`[E9] key name ${JSON.stringify(bad)} is not allowed in ${dir}`);
    });
    const m = await eos(a, ['sign', D, '--key', 'carol', '--for', 'builds']);
    expect(errorLine(m)).toBe(`eos: [E9] no key named "carol" in ${dir}`);
    const usage = await eos(a, ['sign', D, '--key', 'alice', '--for', 'everything']);
    expect(usage.code).toBe(2);
    expect(errorLine(usage)).toMatch(/\[E1\] --for: "everything" is not a purpose/);
  });

  it('refuses a secret key file readable by others', async () => {
    const c = join(tmp, 'c');
    expect((await eos(c, ['key', 'generate', 'k'])).code).toBe(0);
    chmodSync(join(c, 'keys', 'k.key'), 0o644);
    const r = await eos(c, ['sign', D, '--key', 'k', '--for', 'atoms']);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/\[E9\] .*k\.key: secret key is accessible by others \(mode 644\)/);
    expect(r.stderr).toContain('hint: chmod 600');
  });

  it('a malformed trust.toml is a located one-line E11, exit 1, no stack trace', async () => {
    const policy = join(a, 'trust.toml');
    const saved = readFileSync(policy);
    try {
      writeFileSync(policy, 'version = 1\n[purposes]\nbuilds = ["blake3:xyz"]\n');
      for (const args of [
        ['key', 'list'],
        ['verify-signature', D, sigFile, '--for', 'builds'],
      ]) {
        const r = await eos(a, args);
        expect(r.code).toBe(1);
        expect(r.stdout).toBe('');
        expect(errorLine(r)).toBe(
          `eos: [E11] ${policy}: purposes.builds[0]: expected a key id (blake3:<64 lowercase hex>), got "blake3:xyz"`,
        );
      }
      writeFileSync(policy, 'version = 1\n[purposes]\nbuilds = [\n');
      const r = await eos(a, ['key', 'list']);
      expect(r.code).toBe(1);
      expect(errorLine(r)).toMatch(new RegExp(`^eos: \\[E11\\] ${policy}:\\d+:\\d+: `));
    } finally {
      writeFileSync(policy, saved);
    }
  });
});
