// ESLint flat config: typescript-eslint recommended rules plus the module-boundary rule of
// STYLE.md: subsystems are imported only through their index.ts (no deep imports across folders),
// and the layers of specs/layout.md: the kernel (src/kernel) imports no subsystem and no CLI; a
// subsystem imports the kernel only through src/kernel/index.ts and never the CLI (src/cli) or the
// build system (src/build); the build system sits above the subsystems and below the CLI: it imports
// the kernel and the subsystems through their index.ts, and never the CLI.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/** Relative prefixes an import can climb by (files nest at most four folders deep). */
const UPS = ['../', '../../', '../../../', '../../../../'];

const subsystems = ['atoms', 'extractors', 'composer', 'executor', 'scheduler', 'stacks', 'cache'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'bench/out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // The `eos` executable's CommonJS start-up files (specs/cli.md §1.4): require() is their import.
    files: ['bin/**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...subsystems.map((s) => ({
    files: [`${s}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['src/kernel', ...subsystems.filter((o) => o !== s)].flatMap((o) =>
                UPS.flatMap((up) => [`${up}${o}/*`, `!${up}${o}/index.ts`]),
              ),
              message: 'Import other subsystems and the kernel only through their index.ts',
            },
            {
              group: UPS.flatMap((up) => [`${up}src/cli/*`, `${up}src/build/*`, `${up}src/index.ts`]),
              message: 'A subsystem never imports the CLI or the build system (they sit above it)',
            },
          ],
        },
      ],
    },
  })),
  {
    files: ['src/build/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['src/kernel', 'kernel', ...subsystems].flatMap((o) =>
                UPS.flatMap((up) => [`${up}${o}/*`, `!${up}${o}/index.ts`]),
              ),
              message: 'The build system imports the kernel and the subsystems only through their index.ts',
            },
            {
              group: UPS.flatMap((up) => [`${up}cli/*`, `${up}src/cli/*`]),
              message: 'The build system never imports the CLI (it sits above the build system)',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/kernel/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: UPS.flatMap((up) => [
                ...subsystems.map((o) => `${up}${o}/*`),
                `${up}cli/*`,
                `${up}build/*`,
                `${up}src/*`,
              ]),
              message: 'The kernel imports nothing above it: no subsystem, no CLI, no build system',
            },
          ],
        },
      ],
    },
  },
);
