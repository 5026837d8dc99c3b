/**
 * `eos atom verify [LABEL[@VERSION]] [--repo LOCATION]`: verifies published atoms offline: the
 * signatures, the claim chain, key trust (purpose `atoms`), the content digest recomputed from git
 * objects, the source commit's subtree and the set index. Prints `ok\tLABEL\tVERSION\tRECORD\tKEY-NAME`
 * per atom (an http(s):// LOCATION is fetched into
 * `<config>/sets` and verified through its set commit), or `FAIL\tLABEL\tVERSION\tDETAIL` (exit 1).
 * @see specs/atom.md §10
 */
import semver from 'semver';
import {
  readSetState,
  verifierFromConfig,
  verifyAtom,
  verifySetAtom,
  openAtomSource,
  defaultSetCache,
  type VerifiedAtom,
} from '../../atoms/index.ts';
import { configDir } from '../kernel/config.ts';
import { AtomError, EosError, UsageError } from '../kernel/errors.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

export async function run(opts: GlobalOptions & { atom?: string; repo?: string }): Promise<CommandResult> {
  // A local repository is verified through its refs; an HTTP one through its fetched set commit.
  const { repo, fetched } = await openAtomSource(opts.repo ?? '.', defaultSetCache());
  const verifier = await verifierFromConfig(configDir());
  const state = await readSetState(repo);
  let targets = state.atoms.map((a) => ({ label: a.label, version: a.version }));
  if (opts.atom) {
    const [label, version, extra] = opts.atom.split('@');
    if (!label || extra !== undefined || version === '')
      throw new UsageError(`ATOM: ${JSON.stringify(opts.atom)} is not LABEL or LABEL@VERSION`);
    targets = version
      ? [{ label, version }]
      : targets.filter((t) => t.label === label).sort((a, b) => semver.compare(a.version, b.version));
    if (targets.length === 0)
      throw new AtomError(`${label}: the repository publishes no version of it`, { data: { label } });
  }
  const lines: string[] = [];
  const results: unknown[] = [];
  let failed = 0;
  for (const t of targets) {
    try {
      const v: VerifiedAtom = fetched
        ? await verifySetAtom(repo, state, t.label, t.version, verifier)
        : await verifyAtom(repo, t.label, t.version, verifier);
      lines.push(`ok\t${v.label}\t${v.version}\t${v.digest}\t${v.keyName}`);
      results.push({
        ok: true,
        label: v.label,
        version: v.version,
        record: v.digest,
        key: v.key,
        keyName: v.keyName,
      });
    } catch (e) {
      if (!(e instanceof EosError)) throw e;
      if (targets.length === 1) throw e;
      failed++;
      lines.push(`FAIL\t${t.label}\t${t.version}\t${e.message}`);
      results.push({ ok: false, label: t.label, version: t.version, error: e.toJSON() });
    }
  }
  return {
    lines,
    json: { version: 1, set: state.commit, atoms: results },
    notes: [`${targets.length - failed} of ${targets.length} atom(s) verified`],
    exitCode: failed ? 1 : 0,
  };
}
