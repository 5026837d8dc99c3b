/**
 * Finding a built atom's output in the action cache by label and version (`eos swap --atom`): every
 * entry of `STORE/actions/` whose executor record (`details`, specs/build-record.md) names the atom.
 * Reads only; entries that cannot be parsed are skipped (the cache's own reader reports them).
 *
 * @see specs/action.md §6, specs/composition.md §14
 */
import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCanonical, type Digest, type Store } from '../src/kernel/index.ts';
import { parseCacheEntry } from './build-record.ts';

/** One cached action that built the atom. */
export interface AtomOutput {
  action: Digest;
  output: Digest;
  world: Digest;
  /** The entry file's modification time, milliseconds since the epoch (newest first in results). */
  mtimeMs: number;
  /** Key ids that signed the record. */
  signedBy: Digest[];
}

/**
 * The cached outputs of atom `label` at `version`, newest first.
 * @throws IoError E12 never: unreadable directories count as empty
 */
export async function findAtomOutputs(store: Store, label: string, version: string): Promise<AtomOutput[]> {
  const top = join(store.root, 'actions');
  const out: AtomOutput[] = [];
  let dirs: string[];
  try {
    dirs = readdirSync(top).filter((d) => /^[0-9a-f]{2}$/.test(d));
  } catch {
    return out;
  }
  for (const d of dirs) {
    for (const f of readdirSync(join(top, d))) {
      if (!/^[0-9a-f]{62}$/.test(f)) continue;
      const path = join(top, d, f);
      try {
        const entry = parseCacheEntry(await readFile(path), path);
        const details = entry.record.details;
        if (details === null || !(await store.hasBlob(details))) continue;
        const rec = parseCanonical(await store.readBlob(details), `build record ${details}`) as {
          label?: unknown;
          atomVersion?: unknown;
        };
        if (rec.label !== label || rec.atomVersion !== version) continue;
        if (!(await store.hasTree(entry.record.output))) continue;
        out.push({
          action: entry.record.action,
          output: entry.record.output,
          world: entry.record.world,
          mtimeMs: statSync(path).mtimeMs,
          signedBy: entry.signatures.map((s) => s.key),
        });
      } catch {
        continue;
      }
    }
  }
  return out.sort((a, b) => b.mtimeMs - a.mtimeMs);
}
