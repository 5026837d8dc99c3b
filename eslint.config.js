// ESLint flat config: typescript-eslint recommended rules plus the module-boundary rule of
// STYLE.md: subsystems are imported only through their index.ts (no deep imports across folders).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const subsystems = ['atoms', 'extractors', 'composer', 'executor', 'scheduler', 'stacks'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'bench/out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
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
              group: ['src', ...subsystems.filter((o) => o !== s)].flatMap((o) =>
                ['../', '../../', '../../../'].flatMap((up) => [`${up}${o}/*`, `!${up}${o}/index.ts`]),
              ),
              message: 'Import other subsystems and the kernel only through their index.ts',
            },
          ],
        },
      ],
    },
  })),
);
