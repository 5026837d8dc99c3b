/**
 * The host protocol's framing (I/O over any byte stream pair): each frame is a 4-byte big-endian
 * header length, the header (canonical JSON, UTF-8), an 8-byte big-endian payload length, then the
 * payload bytes. Payloads are read in chunks, so a large blob is never held whole.
 *
 * @see specs/host.md §6.1 (framing)
 */
import type { Readable, Writable } from 'node:stream';
import { TransportError, encodeCanonical } from '../src/kernel/index.ts';

/** A frame header: `t` is the message type; the other fields depend on it (specs/host.md §6.2). */
export type Header = { t: string } & Record<string, unknown>;

/** Largest header accepted, in bytes (16 MiB). */
export const MAX_HEADER_BYTES = 16 << 20;

/** Reads frames from a stream. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly input: Readable,
    private readonly peer: string,
  ) {
    input.on('data', (c: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
      if (this.buf.length > 8 << 20) input.pause();
      this.notify();
    });
    input.on('end', () => {
      this.ended = true;
      this.notify();
    });
    input.on('error', (e) => {
      this.error = e;
      this.notify();
    });
  }

  /** Makes every pending and later read fail with `e` (e.g. ssh exited 255). */
  fail(e: Error): void {
    this.error = e;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async fill(n: number): Promise<void> {
    while (this.buf.length < n) {
      if (this.error)
        throw this.error instanceof TransportError
          ? this.error
          : new TransportError(`${this.peer}: ${this.error.message}`);
      if (this.ended)
        throw new TransportError(`${this.peer}: connection closed`, { data: { reason: 'closed' } });
      this.input.resume();
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  private take(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    if (this.buf.length < 1 << 20) this.input.resume();
    return out;
  }

  /** True when the peer closed the stream with no partial frame pending. */
  async atEnd(): Promise<boolean> {
    if (this.buf.length) return false;
    while (!this.ended && !this.error && this.buf.length === 0) {
      this.input.resume();
      await new Promise<void>((r) => (this.wake = r));
    }
    return this.buf.length === 0;
  }

  /**
   * Reads the next frame's header and its payload length.
   * @throws TransportError E36 when the stream ends or the header is malformed
   */
  async header(): Promise<{ header: Header; payloadBytes: number }> {
    await this.fill(4);
    const hlen = this.take(4).readUInt32BE(0);
    if (hlen > MAX_HEADER_BYTES) throw new TransportError(`${this.peer}: frame header of ${hlen} bytes`);
    await this.fill(hlen + 8);
    let header: Header;
    try {
      header = JSON.parse(this.take(hlen).toString('utf8')) as Header;
    } catch {
      throw new TransportError(`${this.peer}: frame header is not JSON`);
    }
    if (typeof header?.t !== 'string') throw new TransportError(`${this.peer}: frame header has no type`);
    const plen = Number(this.take(8).readBigUInt64BE(0));
    return { header, payloadBytes: plen };
  }

  /** Reads a whole payload of `n` bytes. */
  async payload(n: number): Promise<Buffer> {
    await this.fill(n);
    return Buffer.from(this.take(n));
  }

  /** Reads a payload of `n` bytes in chunks, calling `onChunk` for each. */
  async payloadChunks(n: number, onChunk: (b: Buffer) => void): Promise<void> {
    let left = n;
    while (left > 0) {
      await this.fill(1);
      const c = this.take(Math.min(left, this.buf.length));
      onChunk(c);
      left -= c.length;
    }
  }

  /** Reads one frame whole: header and payload. */
  async frame(): Promise<{ header: Header; payload: Buffer }> {
    const { header, payloadBytes } = await this.header();
    return { header, payload: await this.payload(payloadBytes) };
  }
}

/** Writes frames to a stream, honouring back-pressure. */
export class FrameWriter {
  /** Payload bytes written so far (the push's measure of bytes sent). */
  payloadBytes = 0;
  /** Frame bytes written so far, headers included. */
  totalBytes = 0;
  constructor(private readonly out: Writable) {}

  private async write(b: Uint8Array): Promise<void> {
    const closed = () =>
      new TransportError('connection closed while sending', { data: { reason: 'closed' } });
    if (this.out.destroyed || this.out.writableEnded) throw closed();
    this.totalBytes += b.length;
    if (!this.out.write(b))
      await new Promise<void>((res, rej) => {
        const cleanup = () => {
          this.out.off('drain', onDrain);
          this.out.off('error', onFail);
          this.out.off('close', onFail);
        };
        const onDrain = () => {
          cleanup();
          res();
        };
        const onFail = () => {
          cleanup();
          rej(closed());
        };
        this.out.once('drain', onDrain);
        this.out.once('error', onFail);
        this.out.once('close', onFail);
      });
  }

  /** Writes one frame; `payload` may be given as chunks (an async iterable of buffers) with its length. */
  async send(
    header: Header,
    payload?: Uint8Array | { bytes: number; chunks: AsyncIterable<Uint8Array> },
  ): Promise<void> {
    const h = Buffer.from(encodeCanonical(header));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(h.length, 0);
    const plen = Buffer.alloc(8);
    const n = payload === undefined ? 0 : payload instanceof Uint8Array ? payload.length : payload.bytes;
    plen.writeBigUInt64BE(BigInt(n), 0);
    await this.write(Buffer.concat([len, h, plen]));
    this.payloadBytes += n;
    if (payload instanceof Uint8Array) {
      if (payload.length) await this.write(payload);
    } else if (payload) {
      let sent = 0;
      for await (const c of payload.chunks) {
        sent += c.length;
        await this.write(c);
      }
      if (sent !== n) throw new TransportError(`payload of ${sent} bytes sent where ${n} were announced`);
    }
  }
}
