import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LockError, digestBytes } from '../../src/kernel/index.ts';
import { encodeLock, parseLock, type Lock } from '../../atoms/index.ts';

const root = join(import.meta.dirname, '..', '..');

/** The example of specs/lock.md §9. */
function specExample(): string {
  const md = readFileSync(join(root, 'specs', 'lock.md'), 'utf8');
  const m = /## 9\. Example[\s\S]*?```toml\n([\s\S]*?)```/.exec(md);
  if (!m) throw new Error('no example in specs/lock.md §9');
  return m[1]!;
}

function lockError(text: string): LockError {
  try {
    parseLock(text);
  } catch (e) {
    expect(e).toBeInstanceOf(LockError);
    return e as LockError;
  }
  throw new Error('expected a LockError');
}

describe('eos.lock', () => {
  it('the example of specs/lock.md parses and re-encodes byte-identically', () => {
    const text = specExample();
    const lock = parseLock(text);
    expect(Object.keys(lock.atoms)).toEqual(['curl', 'openssl', 'zlib']);
    expect(lock.atoms.curl!.deps).toEqual(['openssl', 'zlib']);
    expect(lock.workspace.app).toEqual({ path: '.', version: '0.1.0', deps: ['curl', 'openssl'] });
    expect(lock.sets.main!.commit).toBe('65c10dc3549fe07424148a8a4790a3341ecbc253');
    expect(encodeLock(lock)).toBe(text);
  });

  it('encoding is independent of construction order, and quotes labels that need it', () => {
    const d = (s: string) => digestBytes(s);
    const a: Lock = {
      version: 1,
      prerelease: true,
      sets: { z: { url: 'file:///z', commit: 'a'.repeat(40) }, a: { url: '../a', commit: 'b'.repeat(64) } },
      workspace: { app: { path: '.', version: '1.0.0', deps: ['zlib', 'libstdc++'] } },
      atoms: {
        zlib: { version: '1.3.1', set: 'z', record: d('r1'), content: d('c1'), deps: [] },
        'libstdc++': { version: '12.2.0', set: 'a', record: d('r2'), content: d('c2'), deps: ['zlib'] },
      },
    };
    const b: Lock = {
      version: 1,
      prerelease: true,
      atoms: { 'libstdc++': a.atoms['libstdc++']!, zlib: a.atoms.zlib! },
      workspace: { app: { deps: ['libstdc++', 'zlib'], version: '1.0.0', path: '.' } },
      sets: { a: a.sets.a!, z: a.sets.z! },
    };
    const text = encodeLock(a);
    expect(encodeLock(b)).toBe(text);
    expect(text).toContain('\n[atoms."libstdc++"]\ncontent = ');
    expect(text.split('\n').slice(0, 3)).toEqual([
      '# eos.lock: written by `eos lock`; edit the atom.toml files, not this file.',
      'version = 1',
      'prerelease = true',
    ]);
    expect(encodeLock(parseLock(text))).toBe(text);
    expect(parseLock(text)).toEqual({
      ...a,
      workspace: { app: { ...a.workspace.app!, deps: ['libstdc++', 'zlib'] } },
    });
  });

  it('refuses bad locks with located errors', () => {
    const text = specExample();
    expect(lockError(text.replace('version = 1', 'version = 2')).message).toBe(
      '[E19] eos.lock:2: version: format version 2 is not supported (this Eos reads 1)',
    );
    expect(
      lockError(text.replace('set = "main"\nversion = "7.88.1"', 'set = "other"\nversion = "7.88.1"'))
        .message,
    ).toBe('[E19] eos.lock:17: atoms.curl.set: set "other" is not in [sets]');
    expect(lockError(text.replace('deps = ["openssl", "zlib"]', 'deps = ["openssl", "ghost"]')).message).toBe(
      '[E19] eos.lock:15: atoms.curl.deps: curl depends on ghost, which is not in the lock',
    );
    expect(lockError(text.replace('record = "blake3:0956', 'record = "sha256:0956')).message).toMatch(
      /^\[E19\] eos.lock:16: atoms.curl.record: "sha256:0956.*" is not a digest/,
    );
    expect(lockError(text.replace('path = "."', 'path = "."\nwhen = "today"')).message).toBe(
      '[E19] eos.lock:11: workspace.app.when: unknown field',
    );
    expect(lockError('version = 1\n[atoms.x]\n').message).toBe(
      '[E19] eos.lock:2: atoms.x.version: required field is missing',
    );
    expect(lockError('version = 1\n[atoms\n').message).toMatch(/^\[E19\] eos.lock:2:\d+: /);
  });
});
