/**
 * The verified-object record (I/O): what this user has checked in this store, so that a
 * composition's objects are re-hashed only when their files changed. Kept under the store's
 * private state `STORE/private/` (mode 0700, owned by the user), as an append-only log whose every
 * line carries an HMAC under a secret key that never leaves that directory: editing the log, the
 * objects or a cache file cannot make an unchecked byte look checked (specs/store.md §12).
 *
 * Line kinds (fields separated by one space, the last field the MAC):
 * - `o HEX DEV INO SIZE MTIMENS CTIMENS MAC`: the object file `objects/<HEX>` with that stat hashed to HEX
 * - `x HEX DEV INO SIZE MTIMENS CTIMENS MAC`: the same for its executable twin `xobjects/<HEX>`
 * - `v HEX VERITY MAC`: the fs-verity digest of the bytes whose BLAKE3 is HEX (computed in one pass)
 * - `b NAME VALUE MAC`: a cache binding (e.g. `image:<root hex>` → the BLAKE3 of that image file)
 *
 * @see specs/store.md §12
 */
import type * as NodeCrypto from 'node:crypto';
import { createRequire } from 'node:module';
import {
  closeSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeSync,
  type BigIntStats,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../atomic-write.ts';
import { digestHex, type Digest } from '../digest.ts';
import { isOsError } from '../os-error.ts';
import { randomHex } from '../random-hex.ts';

/** node:crypto, loaded when a record is first read or written, not with every `eos` start (specs/cli.md §1.4). */
let cryptoModule: typeof NodeCrypto | undefined;
function nodeCrypto(): typeof NodeCrypto {
  return (cryptoModule ??= createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto);
}

/** The private state directory under a store, and its files. */
export const PRIVATE_DIR = 'private';
const KEY_FILE = 'record.key';
const LOG_FILE = 'verified.log';
const MAC_CONTEXT = 'eos.verified/1 ';
const HEX64 = /^[0-9a-f]{64}$/;
const NAME = /^[a-z]+:[0-9a-f]{64}$/;

/** Which file of a blob a stat entry is about. */
export type ObjectFileKind = 'o' | 'x';

/** The stat fields that change whenever a file's bytes (or the file) change: dev ino size mtime ctime. */
export function statKey(st: BigIntStats): string {
  return `${st.dev} ${st.ino} ${st.size} ${st.mtimeNs} ${st.ctimeNs}`;
}

function ownedPrivately(path: string, dir: boolean): boolean {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return false;
  }
  if (dir ? !st.isDirectory() : !st.isFile()) return false;
  const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid;
  return st.uid === uid && (st.mode & 0o077) === 0;
}

/**
 * The record of one store, loaded once per process (cheap: lines are MAC-checked on lookup).
 * When the private directory or key is not the user's own with mode 0700/0600 (another user's
 * store, or tampered), the record is `usable: false`: it trusts nothing and writes nothing, so
 * every object is re-hashed on every use.
 */
export class VerifiedRecord {
  /** False when the private state cannot be trusted (see the class comment). */
  readonly usable: boolean;
  private readonly key: Buffer | undefined;
  private readonly lines = new Map<string, string>();
  /** Lines whose MAC was checked (or that this process wrote): not checked again. */
  private readonly valid = new Set<string>();
  private pending: string[] = [];
  readonly dir: string;

  private constructor(storeRoot: string, create: boolean) {
    this.dir = join(storeRoot, PRIVATE_DIR);
    this.key = loadKey(this.dir, create);
    this.usable = this.key !== undefined;
    if (!this.usable) return;
    let text = '';
    try {
      text = readFileSync(join(this.dir, LOG_FILE), 'latin1');
    } catch {
      // no record yet
    }
    for (const line of text.split('\n')) {
      const sp = line.indexOf(' ', 2);
      if (sp < 0) continue;
      // Later lines win: a binding re-made, a stat re-recorded.
      this.lines.set(line.slice(0, sp), line);
    }
  }

  /**
   * Opens the record of the store at `storeRoot`, creating the private directory and key when
   * `create` and absent.
   */
  static open(storeRoot: string, create = true): VerifiedRecord {
    return new VerifiedRecord(storeRoot, create);
  }

  private mac(body: string): string {
    return nodeCrypto()
      .createHmac('sha256', this.key!)
      .update(MAC_CONTEXT + body)
      .digest('hex')
      .slice(0, 32);
  }

  private lookup(id: string): string[] | undefined {
    if (!this.usable) return undefined;
    const line = this.lines.get(id);
    if (line === undefined) return undefined;
    const cut = line.lastIndexOf(' ');
    const body = line.slice(0, cut);
    if (this.valid.has(line)) return body.split(' ');
    const mac = Buffer.from(line.slice(cut + 1), 'latin1');
    const want = Buffer.from(this.mac(body), 'latin1');
    if (mac.length !== want.length || !nodeCrypto().timingSafeEqual(mac, want)) return undefined;
    this.valid.add(line);
    return body.split(' ');
  }

  private add(body: string): void {
    if (!this.usable) return;
    const line = `${body} ${this.mac(body)}`;
    const sp = line.indexOf(' ', 2);
    this.lines.set(line.slice(0, sp), line);
    this.valid.add(line);
    this.pending.push(line + '\n');
  }

  /** Whether the object file (`o`) or twin (`x`) of `d` with stat `st` was hashed to `d` before. */
  checked(kind: ObjectFileKind, d: Digest, st: BigIntStats): boolean {
    const hex = digestHex(d);
    const f = this.lookup(`${kind} ${hex}`);
    return f !== undefined && f.slice(2).join(' ') === statKey(st);
  }

  /** Records that the file of `d` with stat `st` hashed to `d`. */
  noteChecked(kind: ObjectFileKind, d: Digest, st: BigIntStats): void {
    this.add(`${kind} ${digestHex(d)} ${statKey(st)}`);
  }

  /** The fs-verity digest (hex) of the bytes whose BLAKE3 is `d`, when recorded. */
  verity(d: Digest): string | undefined {
    const f = this.lookup(`v ${digestHex(d)}`);
    return f && HEX64.test(f[2] ?? '') ? f[2] : undefined;
  }

  /** Records the fs-verity digest of `d`'s bytes (computed from bytes that hashed to `d`). */
  noteVerity(d: Digest, verityHex: string): void {
    this.add(`v ${digestHex(d)} ${verityHex}`);
  }

  /** The value (64 hex) bound to a cache name such as `image:<root hex>`, when recorded. */
  binding(name: string): string | undefined {
    if (!NAME.test(name)) throw new Error(`unreachable: bad binding name ${name}`);
    const f = this.lookup(`b ${name}`);
    return f && HEX64.test(f[2] ?? '') ? f[2] : undefined;
  }

  /** Binds a cache name to a 64-hex value (the BLAKE3 of what was written). */
  noteBinding(name: string, valueHex: string): void {
    if (!NAME.test(name) || !HEX64.test(valueHex)) throw new Error(`unreachable: bad binding ${name}`);
    this.add(`b ${name} ${valueHex}`);
  }

  /** Appends what was recorded since the last flush (one write, one fsync). */
  flush(): void {
    if (this.pending.length === 0) return;
    const lines = this.pending.join('');
    this.pending = [];
    let fd: number;
    try {
      fd = openSync(join(this.dir, LOG_FILE), 'a', 0o600);
    } catch {
      return; // the private directory went away: the record is an optimisation, nothing is lost but time
    }
    try {
      writeSync(fd, lines);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * {@link flush} off the event loop: the lines noted so far are appended with one write and one
   * fsync on the thread pool; resolves when they are durable (a build's actions note lines while
   * others run).
   */
  async flushAsync(): Promise<void> {
    if (this.pending.length === 0) return;
    const lines = this.pending.join('');
    this.pending = [];
    let fh;
    try {
      fh = await open(join(this.dir, LOG_FILE), 'a', 0o600);
    } catch {
      return; // as flush: the record is an optimisation
    }
    try {
      await fh.write(lines);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  /**
   * Rewrites the log atomically with only the lines that still apply (`keep` decides for each
   * MAC-valid line, given its fields) and drops forged or torn lines. Called by gc.
   * @returns the number of lines kept
   */
  compact(keep: (fields: string[]) => boolean): number {
    if (!this.usable) return 0;
    const out: string[] = [];
    for (const id of [...this.lines.keys()].sort()) {
      const f = this.lookup(id);
      if (f && keep(f)) out.push(this.lines.get(id)! + '\n');
      else this.lines.delete(id);
    }
    writeFileAtomicSync(join(this.dir, LOG_FILE), out.join(''), { mode: 0o600 });
    this.pending = [];
    return out.length;
  }
}

function loadKey(dir: string, create: boolean): Buffer | undefined {
  const keyPath = join(dir, KEY_FILE);
  if (create) {
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
    }
    if (ownedPrivately(dir, true)) {
      try {
        writeFileAtomicSync(keyPath, randomHex(32) + '\n', {
          mode: 0o600,
          overwrite: false,
        });
      } catch (e) {
        if (!isOsError(e, 'EEXIST')) return undefined;
      }
    }
  }
  if (!ownedPrivately(dir, true) || !ownedPrivately(keyPath, false)) return undefined;
  const hex = readFileSync(keyPath, 'utf8').trim();
  return HEX64.test(hex) ? Buffer.from(hex, 'hex') : undefined;
}
