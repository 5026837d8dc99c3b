/**
 * Fixed-output sources: specifications and fetchers (`debian-source`, `deb`, `git`, `path`).
 * @see specs/executor.md §5
 */
export { parseSourceSpec, describeSource, type SourceSpec, type FetchedSource } from './source-spec.ts';
export { fetchSource, type FetchContext } from './fetch.ts';
