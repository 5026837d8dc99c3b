/**
 * The trust policy, pure: which key ids are trusted for which purpose, parsed from and encoded
 * to `trust.toml`, and edited by `trustKey`/`untrustKey`.
 *
 * shape (TOML): `version = 1`, then a `[purposes]` table whose keys are purposes and whose values
 * are arrays of key ids; absent purposes trust no key. Nothing else is allowed.
 *
 * @see specs/signatures.md §5 (trust policy file)
 */
import { parseTomlLocated } from '../parse-document.ts';
import { lazyZod } from '../lazy-modules.ts';
import { isDigest } from '../digest.ts';
import { ConfigError } from '../errors.ts';
import type { KeyId } from './ed25519.ts';
import { PURPOSES, type Purpose } from './purpose.ts';

/** The format version of `trust.toml`. */
export const TRUST_POLICY_VERSION = 1;

/** Trusted key ids per purpose; each list sorted and without duplicates. */
export interface TrustPolicy {
  version: 1;
  purposes: Record<Purpose, KeyId[]>;
}

/** A policy that trusts no key for anything (what a missing `trust.toml` means). */
export function emptyTrustPolicy(): TrustPolicy {
  return { version: 1, purposes: { atoms: [], builds: [], compositions: [], deploy: [], cache: [] } };
}

/** The schema of `trust.toml`, made on first use (zod is loaded lazily: src/kernel/lazy-modules.ts). */
function makeSchema() {
  const z = lazyZod();
  const keyIdSchema = z
    .string({ error: 'expected a key id string (blake3:<64 lowercase hex>)' })
    .refine(isDigest, { error: 'expected a key id (blake3:<64 lowercase hex>)' });
  const listSchema = z.array(keyIdSchema, { error: 'expected a list of key ids' }).optional();
  return z.strictObject(
    {
      version: z.literal(TRUST_POLICY_VERSION, { error: `expected version = ${TRUST_POLICY_VERSION}` }),
      purposes: z
        .strictObject(
          {
            atoms: listSchema,
            builds: listSchema,
            compositions: listSchema,
            deploy: listSchema,
            cache: listSchema,
          },
          { error: 'expected a table [purposes]' },
        )
        .optional(),
    },
    { error: 'expected a table' },
  );
}
let schema: ReturnType<typeof makeSchema> | undefined;

function fieldPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s || '(top level)';
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const p of path)
    v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

/**
 * Parses a `trust.toml`.
 * @param text the file's content
 * @param file the file's path, named in errors
 * @throws ConfigError E11 located by file and field (or line:column for TOML syntax): bad TOML,
 *   missing or other version, unknown table or purpose, a value that is not a list of key ids,
 *   a key id listed twice for one purpose
 * @see specs/signatures.md §5
 */
export function parseTrustPolicy(text: string, file: string): TrustPolicy {
  const raw: unknown = parseTomlLocated(text, file, ConfigError).doc;
  const r = (schema ??= makeSchema()).safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    let path = issue.path;
    let msg = issue.message;
    if (issue.code === 'unrecognized_keys') {
      path = [...path, issue.keys[0]!];
      msg = `unknown field (allowed: ${path.length === 1 ? 'version, purposes' : PURPOSES.join(', ')})`;
    } else if (path.length === 1 && path[0] === 'version' && valueAt(raw, path) === undefined) {
      msg = `missing (expected version = ${TRUST_POLICY_VERSION})`;
    } else {
      const v = valueAt(raw, path);
      if (v !== undefined)
        msg = `${msg}, got ${typeof v === 'object' ? (Array.isArray(v) ? 'an array' : 'a table') : JSON.stringify(v)}`;
    }
    throw new ConfigError(`${file}: ${fieldPath(path)}: ${msg}`, { data: { file, field: fieldPath(path) } });
  }
  const policy = emptyTrustPolicy();
  for (const p of PURPOSES) {
    const ids = (r.data.purposes?.[p] ?? []) as KeyId[];
    const seen = new Set<string>();
    ids.forEach((id, i) => {
      if (seen.has(id))
        throw new ConfigError(`${file}: purposes.${p}[${i}]: ${id} is listed twice`, {
          data: { file, field: `purposes.${p}[${i}]` },
        });
      seen.add(id);
    });
    policy.purposes[p] = [...ids].sort();
  }
  return policy;
}

/**
 * Encodes a policy as `trust.toml` text: a header comment, `version = 1`, and a `[purposes]`
 * table listing every purpose (sorted key ids, one per line, each followed by a comment with its
 * local name when `names` knows it).
 * @param names local names of key ids, for comments only
 */
export function encodeTrustPolicy(
  policy: TrustPolicy,
  names: ReadonlyMap<KeyId, string> = new Map(),
): string {
  const out = [
    '# Eos trust policy: the keys trusted for each purpose (specs/signatures.md §5).',
    '# Edit with `eos key trust KEY --for PURPOSE` and `eos key untrust KEY --for PURPOSE`.',
    `version = ${TRUST_POLICY_VERSION}`,
    '',
    '[purposes]',
  ];
  for (const p of PURPOSES) {
    const ids = [...new Set(policy.purposes[p])].sort();
    if (!ids.length) {
      out.push(`${p} = []`);
      continue;
    }
    out.push(`${p} = [`);
    for (const id of ids) {
      const name = names.get(id);
      out.push(`  "${id}",${name ? ` # ${name}` : ''}`);
    }
    out.push(']');
  }
  return out.join('\n') + '\n';
}

/** A copy of `policy` with `id` trusted for each of `purposes`. */
export function trustKey(policy: TrustPolicy, id: KeyId, purposes: readonly Purpose[]): TrustPolicy {
  const next = emptyTrustPolicy();
  for (const p of PURPOSES) {
    const s = new Set(policy.purposes[p]);
    if (purposes.includes(p)) s.add(id);
    next.purposes[p] = [...s].sort();
  }
  return next;
}

/** A copy of `policy` with `id` no longer trusted for any of `purposes`. */
export function untrustKey(policy: TrustPolicy, id: KeyId, purposes: readonly Purpose[]): TrustPolicy {
  const next = emptyTrustPolicy();
  for (const p of PURPOSES)
    next.purposes[p] = policy.purposes[p].filter((k) => !(purposes.includes(p) && k === id)).sort();
  return next;
}

/** The purposes `id` is trusted for, in {@link PURPOSES} order. */
export function trustedPurposes(policy: TrustPolicy, id: KeyId): Purpose[] {
  return PURPOSES.filter((p) => policy.purposes[p].includes(id));
}
