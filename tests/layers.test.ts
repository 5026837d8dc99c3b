// The layer rule of eslint.config.js (specs/layout.md): the kernel imports nothing above it, a
// subsystem never imports the CLI or the build system, the build system never imports the CLI, and
// subsystems meet only through index.ts.
// Each case lints a one-line file at a real path through ESLint's own API, so the rule is shown to
// fail on an upward import, not merely configured.
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const eslint = new ESLint({ cwd: root });

async function restricted(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: join(root, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('layer rule', () => {
  it.each([
    ['src/kernel/digest.ts', "import { x } from '../../composer/index.ts';\nexport { x };\n"],
    ['src/kernel/store/fs-store.ts', "import { x } from '../../../executor/index.ts';\nexport { x };\n"],
    ['src/kernel/errors.ts', "import { x } from '../cli/main.ts';\nexport { x };\n"],
    ['src/kernel/keys/verify.ts', "import { x } from '../../build/index.ts';\nexport { x };\n"],
    ['composer/merge.ts', "import { x } from '../src/cli/main.ts';\nexport { x };\n"],
    ['scheduler/plan.ts', "import { x } from '../src/build/index.ts';\nexport { x };\n"],
    ['atoms/lock-file.ts', "import { x } from '../src/kernel/store/fs-store.ts';\nexport { x };\n"],
    ['executor/build.ts', "import { x } from '../composer/merge.ts';\nexport { x };\n"],
    ['src/build/system.ts', "import { x } from '../cli/main.ts';\nexport { x };\n"],
    ['src/build/system.ts', "import { x } from '../kernel/errors.ts';\nexport { x };\n"],
    ['src/build/build-graph.ts', "import { x } from '../../atoms/repo.ts';\nexport { x };\n"],
  ])('refuses an upward or deep import in %s', async (file, source) => {
    expect(await restricted(file, source)).toHaveLength(1);
  });

  it.each([
    ['composer/merge.ts', "import { x } from '../src/kernel/index.ts';\nexport { x };\n"],
    ['executor/build.ts', "import { x } from '../composer/index.ts';\nexport { x };\n"],
    ['src/cli/run.ts', "import { x } from '../../composer/index.ts';\nexport { x };\n"],
    ['src/kernel/store/fs-store.ts', "import { x } from '../digest.ts';\nexport { x };\n"],
    ['src/build/system.ts', "import { x } from '../../scheduler/index.ts';\nexport { x };\n"],
    ['src/build/system.ts', "import { x } from '../kernel/index.ts';\nexport { x };\n"],
    ['src/cli/build.ts', "import { x } from '../build/index.ts';\nexport { x };\n"],
  ])('allows a downward import through a barrel in %s', async (file, source) => {
    expect(await restricted(file, source)).toEqual([]);
  });
});
