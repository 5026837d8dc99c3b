/**
 * Duration history (I/O part): read and write the history file of a store,
 * `STORE/scheduler/history` (canonical JSON).
 *
 * @see specs/scheduler.md §5
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { osError, writeFileAtomic } from '../src/kernel/index.ts';
import { encodeHistory, parseHistory } from './history.ts';

/** The history file of a store. */
export function historyPath(storeDir: string): string {
  return join(storeDir, 'scheduler', 'history');
}

/**
 * Reads a history file; a missing file is an empty history.
 * @throws EncodingError E3 for a malformed file; IoError E12 when it cannot be read
 */
export async function readHistory(path: string): Promise<Map<string, number>> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw osError(e, path);
  }
  return parseHistory(bytes, path);
}

/** Writes a history file atomically. @throws EncodingError E3, IoError E12 */
export async function writeHistory(path: string, durationsMs: ReadonlyMap<string, number>): Promise<void> {
  await writeFileAtomic(path, encodeHistory(durationsMs), { mkdir: true });
}
