/**
 * `eos cache push URL [ACTION…]`: uploads action-cache entries (every one in the store when no
 * action id is given) and the objects of their output closures and logs that the cache lacks.
 * One line per action: `pushed\tACTION\tSENT/OBJECTS object(s) sent\tBYTES B\tentry sent|entry present`,
 * then `N action(s): S object(s) sent (B B), P present`. An unsigned entry is pushed and noted
 * (substituters refuse it).
 *
 * @see specs/cache.md §6
 */
import { listActions, openCache, pushAction, type PushedAction } from '../../cache/index.ts';
import { parseDigest } from '../kernel/digest.ts';
import { Store } from '../kernel/store/index.ts';
import type { CommandResult, GlobalOptions } from './result.ts';

/** Options of `eos cache push`. */
export interface CachePushOptions extends GlobalOptions {
  url: string;
  actions?: string[];
}

/**
 * Runs `eos cache push`.
 * @throws UsageError E1 (URL), DigestError E2 (an action id), NotFoundError E4 (no such entry),
 *   CacheTransportError E58
 */
export async function run(opts: CachePushOptions): Promise<CommandResult> {
  const store = new Store(opts.store);
  const cache = openCache(opts.url);
  try {
    const actions = opts.actions?.length
      ? opts.actions.map((a) => parseDigest(a, 'ACTION'))
      : await listActions(store);
    const pushed: PushedAction[] = [];
    for (const a of actions) pushed.push(await pushAction(store, cache, a));
    const sent = pushed.reduce((n, p) => n + p.sent, 0);
    const bytes = pushed.reduce((n, p) => n + p.sentBytes, 0);
    const present = pushed.reduce((n, p) => n + p.present, 0);
    return {
      lines: [
        ...pushed.map(
          (p) =>
            `pushed\t${p.action}\t${p.sent}/${p.objects} object(s) sent\t${p.sentBytes} B\t${p.entrySent ? 'entry sent' : 'entry present'}`,
        ),
        `${pushed.length} action(s): ${sent} object(s) sent (${bytes} B), ${present} present`,
      ],
      json: {
        format: 'eos.cache-push',
        version: 1,
        cache: opts.url,
        actions: pushed,
        sent,
        sentBytes: bytes,
        present,
      },
      notes: pushed
        .filter((p) => !p.signed)
        .map((p) => `unsigned\t${p.action}\tsubstituters will refuse it (build with --sign-key)`),
    };
  } finally {
    cache.close();
  }
}
