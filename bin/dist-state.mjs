// The ESM face of bin/dist-state.cjs (scripts and tests import it): see there.
export { MANIFEST, distState } from './dist-state.cjs';
