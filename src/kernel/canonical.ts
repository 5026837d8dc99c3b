/**
 * Canonical encoding of every signed or hashed object: JSON canonicalized per RFC 8785 (JCS),
 * encoded as UTF-8. The same value always gives the same bytes, whatever the key order it was
 * built in. Values must be JSON: objects, arrays, strings, booleans, null and finite numbers;
 * Eos formats use only integers in the safe range (|n| ≤ 2^53 − 1).
 *
 * @see specs/store.md §2 (canonical encoding), RFC 8785
 */
import canonicalizeModule from 'canonicalize';
import { EncodingError, NestingTooDeepError } from './errors.ts';
import { digestBytes, type Digest } from './digest.ts';

const canonicalize = canonicalizeModule as unknown as (v: unknown) => string | undefined;

/** A JSON value as the canonical encoder accepts it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/**
 * Whether `v` is JSON as {@link checkJson} accepts it, without building paths (the common case;
 * `checkJson` runs only when this says no, to word the error). With `sortedKeys`, also whether
 * every object's own key order is already the canonical one (RFC 8785: by UTF-16 code units), so
 * that `JSON.stringify` gives the canonical text.
 */
function plainJson(v: unknown, sortedKeys: boolean): boolean {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return true;
  if (typeof v === 'number') return Number.isSafeInteger(v);
  if (Array.isArray(v)) {
    for (const x of v) if (!plainJson(x, sortedKeys)) return false;
    return true;
  }
  if (typeof v !== 'object' || Object.getPrototypeOf(v) !== Object.prototype) return false;
  let prev: string | undefined;
  for (const k in v) {
    if (!Object.hasOwn(v, k)) return false;
    if (sortedKeys && prev !== undefined && !(prev < k)) return false;
    prev = k;
    const x = (v as Record<string, unknown>)[k];
    if (x === undefined || !plainJson(x, sortedKeys)) return false;
  }
  return true;
}

function checkJson(v: unknown, path: string): void {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v))
      throw new EncodingError(`${path}: ${v} is not a safe integer`, { data: { path } });
    return;
  }
  if (Array.isArray(v)) {
    v.forEach((x, i) => checkJson(x, `${path}[${i}]`));
    return;
  }
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (x === undefined) throw new EncodingError(`${path}.${k}: undefined is not JSON`, { data: { path } });
      checkJson(x, `${path}.${k}`);
    }
    return;
  }
  throw new EncodingError(`${path}: ${typeof v} is not JSON`, { data: { path } });
}

/** One encoder and one strict decoder for every call (a no-op build encodes and parses thousands of records). */
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * Encodes a value canonically (RFC 8785 JSON, UTF-8).
 * @throws EncodingError E3 when the value holds anything but JSON with safe integers
 */
export function encodeCanonical(value: unknown): Uint8Array {
  if (!plainJson(value, false)) checkJson(value, '$');
  const text = canonicalize(value);
  if (text === undefined) throw new EncodingError('$: value cannot be canonicalized');
  return utf8.encode(text);
}

/** The digest of a value's canonical encoding. @throws EncodingError E3 */
export function digestCanonical(value: unknown): Digest {
  return digestBytes(encodeCanonical(value));
}

/**
 * The deepest nesting of arrays and objects `parseCanonical` accepts. Eos formats nest a handful of
 * levels; the bound keeps every recursive step after parsing (validation, re-encoding) far from
 * the stack's limit. specs/errors.md (bounds)
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether the bytes hold more than `limit` opening brackets (`[`, `{`), counted natively: when they
 * do not, the text cannot nest deeper than `limit` and {@link jsonDepthOver} need not scan it.
 * (In UTF-8 these bytes never occur inside a multi-byte character.)
 */
function bracketsOver(bytes: Uint8Array, limit: number): boolean {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let n = 0;
  for (const c of [0x5b, 0x7b])
    for (let i = b.indexOf(c); i >= 0; i = b.indexOf(c, i + 1)) if (++n > limit) return true;
  return false;
}

/**
 * The nesting depth of JSON text, by one scan that skips strings (so it never recurses), stopping
 * as soon as it passes `limit`.
 */
function jsonDepthOver(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: skip to its closing quote (a backslash escapes the next character).
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * Decodes canonical bytes, insisting they are canonical: re-encoding the parsed value must give
 * the same bytes, so each object has exactly one accepted byte form.
 * @param what names the subject (file, object digest) in errors
 * @throws EncodingError E3 when the bytes are not UTF-8 JSON or not in canonical form;
 *   NestingTooDeepError E47 when arrays and objects nest deeper than {@link MAX_JSON_DEPTH}
 */
export function parseCanonical(bytes: Uint8Array, what = 'object'): JsonValue {
  let text: string;
  let value: unknown;
  try {
    text = utf8Strict.decode(bytes);
  } catch (e) {
    throw new EncodingError(`${what}: not UTF-8 JSON (${(e as Error).message})`, { data: { what } });
  }
  if (bracketsOver(bytes, MAX_JSON_DEPTH) && jsonDepthOver(text, MAX_JSON_DEPTH))
    throw new NestingTooDeepError(`${what}: JSON nests deeper than ${MAX_JSON_DEPTH} levels`, {
      data: { what, max: MAX_JSON_DEPTH },
    });
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new EncodingError(`${what}: not UTF-8 JSON (${(e as Error).message})`, { data: { what } });
  }
  // Canonical at once when every number is a safe integer, every object's keys are in canonical
  // order and JSON.stringify gives the same text (RFC 8785 writes strings and integers as it does);
  // otherwise the full re-encoding decides, and words the error.
  if (plainJson(value, true) && JSON.stringify(value) === text) return value as JsonValue;
  const again = encodeCanonical(value);
  // Views, not copies, of both byte arrays.
  const view = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (Buffer.compare(view(again), view(bytes)) !== 0)
    throw new EncodingError(`${what}: JSON is not in canonical (RFC 8785) form`, { data: { what } });
  return value as JsonValue;
}
