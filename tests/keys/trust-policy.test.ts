// trust.toml: parsing with located errors, encoding, and trust/untrust edits (pure).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  digestBytes,
  emptyTrustPolicy,
  encodeTrustPolicy,
  parseTrustPolicy,
  trustKey,
  trustedPurposes,
  untrustKey,
} from '../../src/kernel/index.ts';

const K1 = digestBytes('key one');
const K2 = digestBytes('key two');

describe('trust policy', () => {
  it('encodes and parses back; trust and untrust edit per purpose', () => {
    let p = trustKey(emptyTrustPolicy(), K2, ['atoms', 'deploy']);
    p = trustKey(p, K1, ['atoms']);
    const text = encodeTrustPolicy(p, new Map([[K1, 'one']]));
    expect(text).toContain(`"${K1}", # one`);
    expect(parseTrustPolicy(text, 'trust.toml')).toEqual(p);
    expect(p.purposes.atoms).toEqual([K1, K2].sort());
    expect(trustedPurposes(p, K2)).toEqual(['atoms', 'deploy']);
    p = untrustKey(p, K2, ['deploy']);
    expect(trustedPurposes(p, K2)).toEqual(['atoms']);
    expect(parseTrustPolicy('version = 1\n', 'trust.toml')).toEqual(emptyTrustPolicy());
  });

  it('malformed files give E11 located by file and field (or line:column)', () => {
    const cases: [string, string][] = [
      ['version = 1\n[purposes\n', '/c/trust.toml:2:'],
      ['[purposes]\n', '/c/trust.toml: version: missing (expected version = 1)'],
      ['version = 2\n', '/c/trust.toml: version: expected version = 1, got 2'],
      ['version = 1\nowner = "me"\n', '/c/trust.toml: owner: unknown field'],
      ['version = 1\n[purposes]\nbild = []\n', '/c/trust.toml: purposes.bild: unknown field'],
      [
        'version = 1\n[purposes]\nbuilds = "x"\n',
        '/c/trust.toml: purposes.builds: expected a list of key ids, got "x"',
      ],
      [
        'version = 1\n[purposes]\nbuilds = ["nope"]\n',
        '/c/trust.toml: purposes.builds[0]: expected a key id (blake3:<64 lowercase hex>), got "nope"',
      ],
      [
        `version = 1\n[purposes]\ndeploy = ["${K1}", "${K1}"]\n`,
        `/c/trust.toml: purposes.deploy[1]: ${K1} is listed twice`,
      ],
      ['version = 1\npurposes = 3\n', '/c/trust.toml: purposes: expected a table [purposes], got 3'],
    ];
    for (const [text, where] of cases) {
      let err: unknown;
      try {
        parseTrustPolicy(text, '/c/trust.toml');
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(ConfigError);
      expect((err as Error).message.startsWith(`[E11] ${where}`), (err as Error).message).toBe(true);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('random text never crashes the parser', () => {
    for (let i = 0; i < 200; i++) {
      const t = randomBytes(i % 40).toString(i % 2 ? 'latin1' : 'base64');
      try {
        parseTrustPolicy(t, 't');
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
      }
    }
  });
});
