/**
 * Fixed-output sources: specifications and fetchers (`debian-source`, `deb`, `git`, `path`).
 * @see specs/executor.md §5
 */
export { parseSourceSpec, describeSource, type SourceSpec, type FetchedSource } from './source-spec.ts';
export { fetchSource, type FetchContext } from './fetch.ts';
export {
  encodeFetchLock,
  parseFetchLock,
  makeFetchLock,
  fetchEntryKey,
  FETCH_LOCK_FORMAT,
  FETCH_LOCK_VERSION,
  KEPT_HEADERS,
  type FetchEntry,
  type FetchLock,
} from './fetch-lock.ts';
export {
  startFetchProxy,
  fetchProxyFailure,
  type FetchMode,
  type FetchProxy,
  type FetchProxyOptions,
  type FetchProxyOutcome,
  type FetchProblem,
} from './proxy.ts';
export {
  runFetchAction,
  fetchEnv,
  FETCH_PROXY_PORT,
  FETCH_CA_PATH,
  FETCH_RECIPE,
  FETCH_ACTION_IDENTITY,
  type FetchActionRequest,
  type FetchActionResult,
} from './fetch-action.ts';
