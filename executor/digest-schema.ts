/**
 * The zod schema of a digest field in the executor's lock files (seed.lock, fetch.lock): a
 * `blake3:<64 hex>` string, parsed (and so checked) by the kernel's `parseDigest`, whose message
 * the schema's issue carries. Pure.
 *
 * @see specs/store.md §1 (digests)
 */
import { lazySchemas, parseDigest } from '../src/kernel/index.ts';

/**
 * A digest string, parsed to a `Digest`; anything else is an issue with parseDigest's message.
 * Made on the first call (zod is loaded lazily: src/kernel/lazy-modules.ts).
 */
export const digestSchema = lazySchemas((z) =>
  z.string().transform((s, ctx) => {
    try {
      return parseDigest(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  }),
);
