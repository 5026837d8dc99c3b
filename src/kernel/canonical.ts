/**
 * Canonical encoding of every signed or hashed object: JSON canonicalized per RFC 8785 (JCS),
 * encoded as UTF-8. The same value always gives the same bytes, whatever the key order it was
 * built in. Values must be JSON: objects, arrays, strings, booleans, null and finite numbers;
 * Eos formats use only integers in the safe range (|n| ≤ 2^53 − 1).
 *
 * @see specs/store.md §2 (canonical encoding), RFC 8785
 */
import canonicalizeModule from 'canonicalize';
import { EncodingError } from './errors.ts';
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

/**
 * Encodes a value canonically (RFC 8785 JSON, UTF-8).
 * @throws EncodingError E3 when the value holds anything but JSON with safe integers
 */
export function encodeCanonical(value: unknown): Uint8Array {
  checkJson(value, '$');
  const text = canonicalize(value);
  if (text === undefined) throw new EncodingError('$: value cannot be canonicalized');
  return new TextEncoder().encode(text);
}

/** The digest of a value's canonical encoding. @throws EncodingError E3 */
export function digestCanonical(value: unknown): Digest {
  return digestBytes(encodeCanonical(value));
}

/**
 * Decodes canonical bytes, insisting they are canonical: re-encoding the parsed value must give
 * the same bytes, so each object has exactly one accepted byte form.
 * @param what names the subject (file, object digest) in errors
 * @throws EncodingError E3 when the bytes are not UTF-8 JSON or not in canonical form
 */
export function parseCanonical(bytes: Uint8Array, what = 'object'): JsonValue {
  let text: string;
  let value: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    value = JSON.parse(text);
  } catch (e) {
    throw new EncodingError(`${what}: not UTF-8 JSON (${(e as Error).message})`, { data: { what } });
  }
  const again = encodeCanonical(value);
  if (Buffer.compare(Buffer.from(again), Buffer.from(bytes)) !== 0)
    throw new EncodingError(`${what}: JSON is not in canonical (RFC 8785) form`, { data: { what } });
  return value as JsonValue;
}
