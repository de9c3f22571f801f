// Lint rules that carry the project's conventions (STYLE.md rule 12).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // The scanner's labelled corpora are data (malicious samples included), never code of Warden.
  {
    ignores: [
      'dist/',
      'node_modules/',
      'console/dist/',
      'test/fixtures/skills/',
      'test/fixtures/skills-holdout/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'describe', 'it', 'suite', 'before', 'after'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-eval': 'error',
      'no-implied-eval': 'error',
      'no-new-func': 'error',
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'use node:crypto for anything random' },
      ],
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'child_process',
              message: 'child_process is allowed only under src/sandbox and src/gateway',
            },
            {
              name: 'node:child_process',
              message: 'child_process is allowed only under src/sandbox and src/gateway',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/sandbox/**', 'src/gateway/**', 'test/**', 'bench/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // Tests read untyped JSON bodies from the wire on purpose; the unsafe-any family adds noise there.
    files: ['test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Plain JavaScript (this file, fixture servers): no type information to lint with.
    files: ['eslint.config.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', setTimeout: 'readonly', console: 'readonly', URL: 'readonly' },
    },
  },
);
