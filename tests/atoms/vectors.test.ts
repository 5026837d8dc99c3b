// Checks the test vectors of specs/atom.md §9.5: record bytes and digests, the claim signature and
// the content digest of a git subtree, all read from the spec page.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestBytes, keyPairFromSeed, signDigest } from '../../src/kernel/index.ts';
import {
  contentDigestOfGitTree,
  encodeRecord,
  openRepo,
  parseClaim,
  parsePublish,
  recordDigest,
  type ClaimRecord,
  type GitTreeEntry,
  type PublishRecord,
} from '../../atoms/index.ts';
import git from 'isomorphic-git';
import fs from 'node:fs';
import { gitCli, makeRepo, repoRoot } from './fixture.ts';

const spec = readFileSync(join(repoRoot, 'specs', 'atom.md'), 'utf8');
const section = spec.slice(spec.indexOf('### 9.5'), spec.indexOf('## 10.'));
const field = (name: string): string => {
  const m = new RegExp(`^${name}:\\s+(\\S+)$`, 'm').exec(section);
  if (!m) throw new Error(`no ${name} in specs/atom.md §9.5`);
  return m[1]!;
};
const blocks = [...section.matchAll(/```\n([\s\S]*?)```/g)].map((m) => m[1]!);
const SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';

describe('specs/atom.md §9.5 vectors', () => {
  it('claim record bytes, digest and signature', () => {
    const kp = keyPairFromSeed(Uint8Array.from(Buffer.from(SEED, 'hex')));
    const claim: ClaimRecord = { type: 'eos.atom.claim/v1', label: 'zlib', key: kp.id };
    const bytes = new TextDecoder().decode(encodeRecord(claim));
    expect(blocks[0]!.split('\n')[0]).toBe(bytes);
    expect(parseClaim(new TextEncoder().encode(bytes))).toEqual(claim);
    expect(recordDigest(claim)).toBe(field('claim digest'));
    expect(signDigest(recordDigest(claim), 'atoms', kp.seed).signature).toBe(field('claim signature'));
  });

  it('content digest of a git subtree, manifest digest, publish record', async () => {
    const manifestText = '[atom]\nlabel = "zlib"\nversion = "1.3.1"\n';
    const dir = makeRepo({
      'zlib/atom.toml': manifestText,
      'zlib/configure': { exec: '#!/bin/sh\n' },
      'zlib/src/z.h': 'int z;\n',
      'zlib/z.h': { link: 'src/z.h' },
    });
    const tree = gitCli(dir, ['rev-parse', 'HEAD:zlib']);
    expect(tree).toBe(field('git tree id'));
    const repo = await openRepo(dir);
    const content = await contentDigestOfGitTree(
      {
        readTree: async (oid) =>
          (await git.readTree({ fs, gitdir: repo.gitdir, oid })).tree as GitTreeEntry[],
        readBlob: async (oid) => (await git.readBlob({ fs, gitdir: repo.gitdir, oid })).blob,
      },
      tree,
    );
    expect(content.digest).toBe(field('content digest'));
    expect(content.size).toBe(5);
    expect(digestBytes(manifestText)).toBe(field('manifest'));
    const publish: PublishRecord = {
      type: 'eos.atom.publish/v1',
      label: 'zlib',
      version: '1.3.1',
      source: { commit: 'a'.repeat(40), path: 'zlib' },
      content: content.digest,
      manifest: digestBytes(manifestText),
      claim: field('claim digest') as PublishRecord['claim'],
    };
    const bytes = new TextDecoder().decode(encodeRecord(publish));
    expect(blocks[2]!.split('\n')[0]).toBe(bytes);
    expect(parsePublish(new TextEncoder().encode(bytes))).toEqual(publish);
    expect(recordDigest(publish)).toBe(field('publish digest'));
  });
});
