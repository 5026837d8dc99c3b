/**
 * The fetch proxy against a real HTTP server on loopback, with curl as the client: record stores
 * every body and writes a canonical lock; replay serves only the lock (byte-identical, without the
 * server) and names anything else (E53); a stored body that no longer matches its kept digest and a
 * URL whose bytes changed under a kept digest are E13; a body missing from the store is E55; a
 * hand-edited lock is E54. The lock vector of specs/fetch.md §3 is checked here too.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Store, digestBytes, type Digest } from '../../src/kernel/index.ts';
import {
  encodeFetchLock,
  fetchProxyFailure,
  makeFetchLock,
  parseFetchLock,
  startFetchProxy,
  type FetchLock,
} from '../../executor/index.ts';

const run = promisify(execFile);

/** GET through the proxy with curl; returns the status and body. */
async function curl(port: number, caPath: string, url: string): Promise<{ status: number; body: string }> {
  const r = await run('curl', [
    '-sS',
    '--proxy',
    `http://127.0.0.1:${port}`,
    '--cacert',
    caPath,
    '-w',
    '\n%{http_code}',
    url,
  ]);
  const i = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(i + 1)), body: r.stdout.slice(0, i).trimEnd() };
}

describe('the fetch proxy (real loopback server, curl)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'eos-fetch-proxy-'));
  const store = new Store(join(tmp, 'store'));
  let version = 'one';

  async function withServer<T>(f: (base: string) => Promise<T>): Promise<T> {
    const server = http.createServer((req, res) => {
      if (req.url === '/gone') {
        res.writeHead(404, { 'content-type': 'text/plain', 'x-noise': String(Date.now()) });
        res.end('not here\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', date: new Date().toUTCString() });
      res.end(`bytes of ${req.url} version ${version}\n`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      return await f(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  }

  let lock: FetchLock;
  let base = '';

  it('records every response (body in the store, entry in a canonical lock)', async () => {
    await withServer(async (b) => {
      base = b;
      const proxy = await startFetchProxy({ store, mode: 'record', dir: mkdtempSync(join(tmp, 'p-')) });
      expect(proxy.caPem).toMatch(/BEGIN CERTIFICATE/);
      expect(await curl(proxy.port, proxy.caPath, `${b}/a.tgz`)).toEqual({
        status: 200,
        body: 'bytes of /a.tgz version one',
      });
      expect((await curl(proxy.port, proxy.caPath, `${b}/gone`)).status).toBe(404);
      await curl(proxy.port, proxy.caPath, `${b}/a.tgz`); // a repeat is one entry
      const out = await proxy.stop();
      expect(out.problems).toEqual([]);
      lock = out.lock;
    });
    expect(lock.entries.map((e) => [e.method, e.url.slice(base.length), e.status])).toEqual([
      ['GET', '/a.tgz', 200],
      ['GET', '/gone', 404],
    ]);
    const a = lock.entries[0]!;
    expect(a.body).toBe(digestBytes('bytes of /a.tgz version one\n'));
    expect(a.headers).toEqual({ 'content-type': 'application/octet-stream' }); // date dropped
    expect(a.request).toBeNull();
    expect(await store.hasBlob(a.body)).toBe(true);
    const bytes = encodeFetchLock(lock);
    expect(parseFetchLock(bytes)).toEqual(lock);
  });

  it('replays byte-identically with the server gone, and names an unrecorded request (E53)', async () => {
    const proxy = await startFetchProxy({ store, mode: 'replay', lock, dir: mkdtempSync(join(tmp, 'p-')) });
    expect(await curl(proxy.port, proxy.caPath, `${base}/a.tgz`)).toEqual({
      status: 200,
      body: 'bytes of /a.tgz version one',
    });
    expect(await curl(proxy.port, proxy.caPath, `${base}/gone`)).toEqual({ status: 404, body: 'not here' });
    const other = await curl(proxy.port, proxy.caPath, `${base}/b.tgz`);
    expect(other.status).toBe(403);
    expect(other.body).toContain('not in fetch.lock');
    const out = await proxy.stop();
    expect(out.served).toBe(2);
    const err = fetchProxyFailure('t 1.0.0', out.problems)!;
    expect(err.code).toBe('E53');
    expect(err.message).toContain(`unrecorded request GET ${base}/b.tgz`);
  });

  it('a URL whose bytes changed under its kept digest is E13 (re-record), and is not stored', async () => {
    version = 'two';
    await withServer(async (b) => {
      // Same port is not guaranteed: rewrite the kept URLs to this server's.
      const old = makeFetchLock(lock.entries.map((e) => ({ ...e, url: e.url.replace(base, b) })));
      const proxy = await startFetchProxy({
        store,
        mode: 'record',
        lock: old,
        dir: mkdtempSync(join(tmp, 'p-')),
      });
      const r = await curl(proxy.port, proxy.caPath, `${b}/a.tgz`);
      expect(r.status).toBe(502);
      const out = await proxy.stop();
      const err = fetchProxyFailure('t 1.0.0', out.problems)!;
      expect(err.code).toBe('E13');
      expect(err.message).toContain(`GET ${b}/a.tgz: expected ${old.entries[0]!.body}, got `);
      expect(await store.hasBlob(digestBytes('bytes of /a.tgz version two\n'))).toBe(false);
    });
  });

  it('a stored body that no longer matches is E13; a body not in the store is E55', async () => {
    const own = new Store(join(tmp, 'store-tamper'));
    const body = lock.entries[0]!.body;
    await own.putBlob(readFileSync(store.blobPath(body)));
    const path = own.blobPath(body);
    chmodSync(path, 0o644);
    writeFileSync(path, 'tampered\n');
    const proxy = await startFetchProxy({
      store: own,
      mode: 'replay',
      lock,
      dir: mkdtempSync(join(tmp, 'p-')),
    });
    expect((await curl(proxy.port, proxy.caPath, `${base}/a.tgz`)).status).toBe(403);
    expect((await curl(proxy.port, proxy.caPath, `${base}/gone`)).status).toBe(403); // never stored here
    const out = await proxy.stop();
    expect(out.served).toBe(0);
    const err = fetchProxyFailure('t 1.0.0', out.problems)!;
    expect(err.code).toBe('E13');
    expect(err.message).toContain(`expected ${body}, got ${digestBytes('tampered\n')}`);
    const missing = fetchProxyFailure(
      't 1.0.0',
      out.problems.filter((p) => p.kind !== 'changed'),
    )!;
    expect(missing.code).toBe('E55');
    expect(missing.message).toContain(
      `GET ${base}/gone: recorded body ${lock.entries[1]!.body} is not in the store`,
    );
  });

  it('a hand-edited or malformed lock is E54', () => {
    const text = Buffer.from(encodeFetchLock(lock)).toString();
    const pretty = JSON.stringify(JSON.parse(text), null, 2);
    expect(() => parseFetchLock(Buffer.from(pretty), 'x/fetch.lock')).toThrow(
      /\[E54\] x\/fetch.lock: not a canonical/,
    );
    const swapped = { ...JSON.parse(text), entries: [...lock.entries].reverse() };
    expect(() => parseFetchLock(encodeCanonicalText(swapped))).toThrow(/\[E54\].*entries\[1\]: out of order/);
    const bad = { ...JSON.parse(text), entries: [{ ...lock.entries[0]!, status: 'ok' }] };
    expect(() => parseFetchLock(encodeCanonicalText(bad))).toThrow(/\[E54\] fetch.lock: entries.0.status/);
  });

  it('matches the vector of specs/fetch.md §3', () => {
    const body = digestBytes('hello\n') as Digest;
    const v = makeFetchLock([
      {
        method: 'GET',
        url: 'https://example.invalid/b.tgz',
        request: null,
        status: 200,
        headers: { 'content-type': 'application/octet-stream' },
        body,
        size: 6,
      },
      {
        method: 'GET',
        url: 'https://example.invalid/a',
        request: null,
        status: 301,
        headers: { location: 'https://example.invalid/b.tgz' },
        body: digestBytes('') as Digest,
        size: 0,
      },
    ]);
    const bytes = Buffer.from(encodeFetchLock(v)).toString();
    const spec = readFileSync(join(import.meta.dirname, '../../specs/fetch.md'), 'utf8');
    const vector = /<!-- vector:fetch-lock -->\n```\n(.*)\n```/.exec(spec)![1]!;
    expect(bytes).toBe(vector);
    expect(digestBytes(bytes)).toBe(/fetch-lock digest: `(blake3:[0-9a-f]{64})`/.exec(spec)![1]);
  });
});

/** Canonical bytes of a JSON value (sorted keys, no spaces), bypassing the lock's own sorting. */
function encodeCanonicalText(v: unknown): Buffer {
  const sort = (x: unknown): unknown =>
    Array.isArray(x)
      ? x.map(sort)
      : x && typeof x === 'object'
        ? Object.fromEntries(
            Object.keys(x)
              .sort()
              .map((k) => [k, sort((x as Record<string, unknown>)[k])]),
          )
        : x;
  return Buffer.from(JSON.stringify(sort(v)));
}
