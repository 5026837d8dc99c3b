/**
 * `eos closure ROOT --roots PATH|ENTRY,…`: the runtime closure of roots in a composition (ROOT is a
 * composition root; a stored tree digest or a directory on disk is taken as the view itself). Plain
 * mode prints `member⇥PATH⇥ENTRIES⇥REASON[⇥+N more]`, `link⇥PATH⇥TARGET⇥ENTRIES`, `entry⇥NAME` and
 * `closure⇥DIGEST`; when a requirement is unsatisfied it prints `unsatisfied⇥KIND⇥DETAIL` lines and
 * the digest instead, and exits 3. `--json` prints the closure document.
 * @see specs/interface.md §10
 */
import { existsSync, statSync } from 'node:fs';
import { NotFoundError, Store, UsageError, isDigest, parseDigest } from '../kernel/index.ts';
import { CompositionStore } from '../../composer/index.ts';
import {
  closureDigest,
  compositionClosureEntries,
  computeClosure,
  describeReason,
  describeUnsatisfied,
  directoryClosureTree,
  storeClosureTree,
  type ClosureInput,
} from '../../extractors/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos closure`. */
export interface ClosureOptions extends GlobalOptions {
  root: string;
  /** Comma-separated: absolute paths in the view, or entry names. */
  roots?: string;
}

/** The view and entries named by ROOT. */
async function subjectOf(
  root: string,
  storeDir: string,
): Promise<Pick<ClosureInput, 'tree' | 'entries' | 'subject'>> {
  if (!isDigest(root)) {
    if (existsSync(root) && statSync(root).isDirectory()) return { tree: directoryClosureTree(root) };
    if (root.startsWith('blake3:')) parseDigest(root, 'ROOT');
    throw new NotFoundError(`closure ROOT ${root} is neither a digest nor a directory`, { data: { root } });
  }
  const store = new Store(storeDir);
  if (await store.hasBlob(root)) {
    const cs = new CompositionStore(store);
    const c = await cs.load(root);
    const v = await cs.view(root);
    return {
      tree: storeClosureTree(store, v.tree),
      entries: compositionClosureEntries(store, c, v.tree),
      subject: { composition: root, tree: v.tree },
    };
  }
  if (await store.hasTree(root)) return { tree: storeClosureTree(store, root), subject: { tree: root } };
  throw new NotFoundError(`${root} is neither a composition nor a tree in the store ${storeDir}`, {
    data: { digest: root },
  });
}

/**
 * Computes the closure and returns it as lines and JSON.
 * @throws UsageError E1 without roots; NotFoundError E4 for an unknown ROOT, root path or entry;
 *   CompositionError E18, ElfFormatError E15 (a malformed root), IoError E12
 */
export async function run(opts: ClosureOptions): Promise<CommandResult> {
  const items = (opts.roots ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0)
    throw new UsageError('eos closure: --roots names no path or entry', {
      hint: 'eos closure ROOT --roots /usr/bin/curl (absolute paths in the view, or entry names)',
    });
  const subject = await subjectOf(opts.root, opts.store);
  const paths = items.filter((s) => s.startsWith('/'));
  const entries = items.filter((s) => !s.startsWith('/'));
  if (entries.length && !subject.entries)
    throw new UsageError(
      `eos closure: roots ${entries.join(', ')} are entry names, but ${opts.root} is not a composition`,
      {
        hint: 'give roots as absolute paths',
      },
    );
  const c = await computeClosure({ ...subject, roots: { paths, entries } });
  const digest = closureDigest(c);
  const lines: string[] = [];
  if (c.unsatisfied.length) {
    for (const u of c.unsatisfied) lines.push(['unsatisfied', u.kind, describeUnsatisfied(u)].join('\t'));
  } else {
    for (const m of c.members) {
      const first = m.reasons[0];
      const row = ['member', m.path, m.entries.join(',') || '-', first ? describeReason(c, m, first) : '-'];
      if (m.reasons.length > 1) row.push(`+${m.reasons.length - 1} more`);
      lines.push(row.join('\t'));
    }
    for (const l of c.links) lines.push(['link', l.path, l.target, l.entries.join(',') || '-'].join('\t'));
    for (const e of c.entries) lines.push(['entry', e].join('\t'));
  }
  lines.push(['closure', digest].join('\t'));
  return { lines, json: c, ...(c.unsatisfied.length ? { exitCode: 3 } : {}) };
}
