/**
 * One record per action (specs/action.md §4, §5): when the executor returns its build record, the
 * rebuilder files that very record and signs it once; a record that answers another action fails
 * the node (E5) instead of being filed.
 */
import { describe, expect, it } from 'vitest';
import { digestBytes, type Digest } from '../../src/kernel/index.ts';
import {
  MemoryActionCache,
  buildRecordDigest,
  constructiveRebuilder,
  keySigner,
  makeBuildRecord,
  parseCacheEntry,
  schedule,
  type BuildRecord,
} from '../../scheduler/index.ts';

const D = digestBytes;
const z = (c: string): Digest => `blake3:${c.repeat(64)}` as Digest;

describe('one build record per action', () => {
  it("files the executor's record with one signature; refuses a record of another action", async () => {
    const cache = new MemoryActionCache();
    const made = new Map<string, BuildRecord>();
    const r = await schedule({
      nodes: [
        { label: 'zlib', deps: [] },
        { label: 'bad', deps: [] },
      ],
      key: (n) => D(`action ${n.label}`),
      rebuilder: constructiveRebuilder(cache, { signer: keySigner(new Uint8Array(32).fill(3)) }),
      seedMode: 'host',
      executor: async (n, ctx) => {
        const out = { output: D(`out ${n.label}`), world: D('world'), log: D(`log ${n.label}`) };
        const record = makeBuildRecord({
          ...out,
          action: n.label === 'bad' ? D('another action') : ctx.action,
          durationMs: 5,
          seedMode: 'host',
          details: {
            label: n.label,
            atomVersion: '1.0.0',
            recipe: { name: 'std.make', identity: z('6'), args: {} },
            seed: { mode: 'host', root: z('7') },
            shadowed: [],
            sources: [],
            dependencies: [],
            sourceDateEpoch: 1700000000,
            warnings: [],
          },
        });
        made.set(n.label, record);
        return { ...out, record };
      },
    });
    expect(r.results.get('zlib')!.status).toBe('ok');
    const bytes = cache.entries.get(D('action zlib'))!;
    const entry = parseCacheEntry(bytes, 'zlib entry', D('action zlib'));
    expect(entry.record).toEqual(made.get('zlib'));
    expect(entry.signatures).toHaveLength(1);
    expect(entry.signatures[0]!.signed).toBe(buildRecordDigest(made.get('zlib')!));
    const bad = r.results.get('bad')!;
    expect(bad.status).toBe('failed');
    expect(bad.detail).toMatch(/bad: the executor's build record does not answer action/);
    expect(cache.entries.has(D('action bad'))).toBe(false);
  });
});
