// The error code a call ends with, for tests that assert only the code: `E4`, `E6`, … or `ok`.
// Anything but an EosError is thrown on, so a crash never passes for a refusal.
import { EosError } from '../../src/kernel/index.ts';

/** The EosError code `p` rejects with, or `ok` when it resolves. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof EosError) return e.code;
    throw e;
  }
  return 'ok';
}

/** The EosError code `f` throws, or `ok` when it returns. */
export function codeOfSync(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof EosError) return e.code;
    throw e;
  }
  return 'ok';
}
