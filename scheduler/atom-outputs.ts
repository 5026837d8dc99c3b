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
import { isDigest, parseCanonical, type Digest, type Store } from '../src/kernel/index.ts';

/** One cached action that built the atom. */
export interface AtomOutput {
  action: Digest;
  output: Digest;
  /** The world's composition root, or null when the record names none. */
  world: Digest | null;
  /** The entry file's modification time, milliseconds since the epoch (newest first in results). */
  mtimeMs: number;
  /** Key ids that signed the record. */
  signedBy: Digest[];
  /** The version the record names. */
  version: string;
  /** The read set of an observed build (`details.readSet`, specs/observe.md §3), else null. */
  readSet: Digest | null;
}

/**
 * The cached outputs of atom `label` at `version` (any version when it is undefined), newest first.
 * @throws IoError E12 never: unreadable directories count as empty
 */
export async function findAtomOutputs(
  store: Store,
  label: string,
  version: string | undefined,
): Promise<AtomOutput[]> {
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
        // Read loosely, so that entries of either build-record version are found: version 2 embeds
        // the executor's details, version 1 named them by a blob digest.
        const entry = JSON.parse(await readFile(path, 'utf8')) as {
          record?: { action?: unknown; output?: unknown; world?: unknown; details?: unknown };
          signatures?: { key?: unknown }[];
        };
        const r = entry.record;
        if (!r || !isDigest(r.action) || !isDigest(r.output)) continue;
        let details = r.details as
          { label?: unknown; atomVersion?: unknown; readSet?: unknown } | string | null | undefined;
        if (typeof details === 'string') {
          if (!isDigest(details) || !(await store.hasBlob(details))) continue;
          details = parseCanonical(await store.readBlob(details), `build record ${details}`) as {
            label?: unknown;
            atomVersion?: unknown;
          };
        }
        if (!details || details.label !== label || typeof details.atomVersion !== 'string') continue;
        if (version !== undefined && details.atomVersion !== version) continue;
        if (!(await store.hasTree(r.output))) continue;
        out.push({
          action: r.action,
          output: r.output,
          world: isDigest(r.world) ? r.world : null,
          mtimeMs: statSync(path).mtimeMs,
          signedBy: (entry.signatures ?? []).map((x) => x.key).filter(isDigest),
          version: details.atomVersion,
          readSet: isDigest(details.readSet) ? details.readSet : null,
        });
      } catch {
        continue;
      }
    }
  }
  return out.sort((a, b) => b.mtimeMs - a.mtimeMs);
}
