/**
 * Random hex for temporary and lock file names, without loading `node:crypto` (about 4 ms of every
 * `eos` start, specs/cli.md §1.4): bytes from the kernel's CSPRNG (`/dev/urandom`), read 256 at a
 * time and handed out in order, each byte once. The names need to be unguessable and unique per
 * process, as `crypto.randomBytes` made them; the source is the same.
 */
import { closeSync, openSync, readSync } from 'node:fs';

const POOL = 256;
let pool = Buffer.alloc(0);
let at = 0;

/**
 * `bytes` random bytes (at most 256) as `2 × bytes` lowercase hex digits.
 * @throws Error (an operating-system error) when `/dev/urandom` cannot be read
 */
export function randomHex(bytes: number): string {
  if (at + bytes > pool.length) {
    const next = Buffer.alloc(POOL);
    const fd = openSync('/dev/urandom', 'r');
    try {
      let got = 0;
      while (got < POOL) got += readSync(fd, next, got, POOL - got, null);
    } finally {
      closeSync(fd);
    }
    pool = next;
    at = 0;
  }
  const s = pool.toString('hex', at, at + bytes);
  at += bytes;
  return s;
}
