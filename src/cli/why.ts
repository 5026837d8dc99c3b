/**
 * `eos why ATOM [PATH]`: what the newest observed build of ATOM (`LABEL` or `LABEL@VERSION`) used
 * of its world (specs/observe.md §5). Without PATH, one line per world entry in precedence order:
 * `used⇥ENTRY⇥R read, T touched, of D files` or `unused⇥ENTRY⇥D files, none touched (prunable)`,
 * one `outside⇥PATH` per probe for a path outside the world, then
 * `why⇥LABEL@VERSION⇥READSET⇥U of N entries used, K prunable, F files touched, P probes outside`.
 * With PATH: `path⇥PATH⇥PROVIDER (or -)⇥read | looked up | not touched | probed, not in the world`,
 * then `holder⇥ENTRY⇥KIND⇥visible | shadowed | merged` for each entry holding a node there.
 * @throws NotObservedError E51 when the atom has no observed build in the action cache
 */
import { explainPath, explainReadSet, isRead, loadReadSet } from '../../executor/index.ts';
import { findAtomOutputs } from '../../scheduler/index.ts';
import { NotObservedError, Store } from '../kernel/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos why`. */
export interface WhyOptions extends GlobalOptions {
  atom: string;
  path?: string;
}

/** Runs `eos why`. @throws NotObservedError E51 */
export async function run(opts: WhyOptions): Promise<CommandResult> {
  const store = new Store(opts.store);
  const at = opts.atom.lastIndexOf('@');
  const label = at > 0 ? opts.atom.slice(0, at) : opts.atom;
  const version = at > 0 ? opts.atom.slice(at + 1) : undefined;
  const found = (await findAtomOutputs(store, label, version)).find((o) => o.readSet !== null);
  if (!found?.readSet)
    throw new NotObservedError(`${opts.atom}: no observed build in the action cache of ${store.root}`, {
      hint: 'build it with `eos build --observe`',
    });
  const readSet = await loadReadSet(store, found.readSet);
  const name = `${label}@${found.version}`;
  if (opts.path !== undefined) {
    const p = await explainPath(store, readSet, opts.path);
    const o = p.observed;
    const what = !o
      ? 'not touched'
      : o.kind === 'missing'
        ? 'probed, not in the world'
        : isRead(o.ops)
          ? 'read'
          : 'looked up';
    return {
      lines: [
        `path\t${p.path}\t${p.provider ?? '-'}\t${what}`,
        ...p.holders.map(
          (h, i) =>
            `holder\t${h.entry}\t${h.kind}\t${h.kind === 'directory' ? 'merged' : i === 0 ? 'visible' : 'shadowed'}`,
        ),
      ],
      json: {
        format: 'eos.why-path',
        version: 1,
        atom: name,
        readSet: found.readSet,
        path: p.path,
        provider: p.provider,
        holders: p.holders,
        observed: o ? { kind: o.kind, ops: o.ops } : null,
      },
    };
  }
  const r = await explainReadSet(store, readSet, found.readSet, { declared: true });
  const used = r.entries.filter((e) => e.touched > 0);
  return {
    lines: [
      ...r.entries.map((e) =>
        e.touched > 0
          ? `used\t${e.entry}\t${e.read} read, ${e.touched} touched, of ${e.declared} files`
          : `unused\t${e.entry}\t${e.declared} files, none touched (prunable)`,
      ),
      ...r.missing.map((p) => `outside\t${p}`),
      `why\t${name}\t${found.readSet}\t${used.length} of ${r.entries.length} entries used, ${r.prunable.length} prunable, ${r.touched} files touched, ${r.missing.length} probes outside`,
    ],
    json: {
      format: 'eos.why',
      version: 1,
      atom: name,
      output: found.output,
      readSet: found.readSet,
      world: r.world,
      entries: r.entries,
      prunable: r.prunable,
      outside: r.missing,
      touched: r.touched,
    },
  };
}
