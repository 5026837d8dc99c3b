/**
 * Vitest global setup: the tests spawn `bin/eos.mjs`, which runs the compiled CLI in dist/ only
 * when it is current with the sources (bin/dist-state.cjs). Rebuild it first when it is not, so the
 * suite exercises the compiled CLI and never a stale one (specs/cli.md §1).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { distState } from '../bin/dist-state.mjs';

const root = join(import.meta.dirname, '..');

export default function setup(): void {
  const before = distState(root);
  if (before.fresh) return;
  console.error(`global setup: ${before.reason}; rebuilding dist/`);
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-dist.mjs')], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) console.error('global setup: dist/ was built with type errors (see above)');
  const after = distState(root);
  if (!after.fresh)
    throw new Error(`global setup: dist/ is still not current after a build: ${after.reason}`);
}
