// The test vector of specs/interface-python.md §10: the tree is read from the page's JSON block,
// the manifest is rebuilt and its digest, stdlib digest and canonical bytes are compared with the
// page. Also pins the parser version the extractor identity is defined with (§1.1).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeCanonical, digestCanonical } from '../../src/kernel/index.ts';
import {
  buildPythonManifest,
  pythonManifestDigest,
  PYTHON_EXTRACTOR_IDENTITY,
  STDLIB_MODULE_NAMES,
} from '../../extractors/index.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const page = readFileSync(join(repoRoot, 'specs', 'interface-python.md'), 'utf8');
const section = page.slice(page.indexOf('## 10. Test vector'));

describe('specs/interface-python.md §10 test vector', () => {
  const files = JSON.parse(/```json\n([\s\S]*?)```/.exec(section)![1]!) as Record<string, string>;
  const m = buildPythonManifest({
    paths: Object.keys(files).sort(),
    read: (p) => new TextEncoder().encode(files[p]!),
  });

  it('rebuilds the manifest digest and the stdlib digest stated on the page', () => {
    const digests = [...section.matchAll(/`(blake3:[0-9a-f]{64})`/g)].map((x) => x[1]);
    expect(digests[0]).toBe(pythonManifestDigest(m));
    expect(digests[1]).toBe(digestCanonical([...STDLIB_MODULE_NAMES].sort()));
    expect(m.stdlib.names).toBe(digests[1]);
  });

  it('produces the canonical bytes printed on the page', () => {
    const printed = /```\n(\{"extractor"[\s\S]*?)```/.exec(section)![1]!.replaceAll('\n', '');
    expect(new TextDecoder().decode(encodeCanonical(m))).toBe(printed);
  });

  it('states the facts the page describes', () => {
    const r = m.provides.distributions[0]!.record!;
    expect(r).toMatchObject({
      verified: 4,
      unhashed: 1,
      missing: ['vec/gone.py'],
      unrecorded: ['vec/extra.txt'],
    });
    expect(r.mismatches.map((x) => x.path)).toEqual(['vec/util.py']);
    expect(m.requires.files.find((f) => f.path === 'vec/core.py')!.error).toMatchObject({
      line: 2,
      kind: 'syntax',
    });
  });

  it('identity 1.0.0 is defined with @lezer/python 1.1.19 (specs/interface-python.md §1.1)', () => {
    const pkg = JSON.parse(
      readFileSync(join(repoRoot, 'node_modules', '@lezer', 'python', 'package.json'), 'utf8'),
    ) as {
      version: string;
    };
    expect(PYTHON_EXTRACTOR_IDENTITY).toEqual({ name: 'eos-interface-python', version: '1.0.0' });
    expect(pkg.version).toBe('1.1.19');
  });
});
