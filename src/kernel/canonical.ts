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
  checkJson(value, '$');
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
  if (jsonDepthOver(text, MAX_JSON_DEPTH))
    throw new NestingTooDeepError(`${what}: JSON nests deeper than ${MAX_JSON_DEPTH} levels`, {
      data: { what, max: MAX_JSON_DEPTH },
    });
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new EncodingError(`${what}: not UTF-8 JSON (${(e as Error).message})`, { data: { what } });
  }
  const again = encodeCanonical(value);
  // Views, not copies, of both byte arrays.
  const view = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (Buffer.compare(view(again), view(bytes)) !== 0)
    throw new EncodingError(`${what}: JSON is not in canonical (RFC 8785) form`, { data: { what } });
  return value as JsonValue;
}
