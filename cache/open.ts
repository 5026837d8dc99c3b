/**
 * Opens a binary cache by URL: `http://` and `https://` are the HTTP file-tree backend,
 * `grpc://host:port[/instance]` and `grpcs://…` the REAPI backend.
 * @see specs/cache.md §2
 */
import { UsageError } from '../src/kernel/index.ts';
import type { CacheBackend } from './backend.ts';
import { isCacheUrl } from './config.ts';
import { HttpCache } from './http.ts';
import { ReapiCache } from './reapi.ts';

/**
 * The backend for a cache URL.
 * @throws UsageError E1 when the URL has no backend
 */
export function openCache(url: string): CacheBackend {
  if (!isCacheUrl(url))
    throw new UsageError(`cache URL ${JSON.stringify(url)}: expected http://, https://, grpc:// or grpcs://`);
  return url.startsWith('http') ? new HttpCache(url) : new ReapiCache(url);
}
