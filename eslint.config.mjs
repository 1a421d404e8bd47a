// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * One adapter per provider SDK: `@vonage/*`, `stripe` and `twilio` are imported only in providers/ (adapters and
 * webhook verification) and sandbox/ (the emulators sign like the providers do). test/ is exempt: its suites drive
 * the real SDKs against the emulators.
 */
const PROVIDER_SDKS = {
  // A regex, not a gitignore group: `stripe` would also match our own providers/stripe/ folder.
  regex: '^(@vonage/|(stripe|twilio)(/|$))',
  message: 'provider SDKs are imported only in providers/ (adapters, webhook verification) and sandbox/',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.data/**', 'test/histories/**', 'bench/{results,tmp}/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O, no real clock or randomness.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*'],
              message: 'workflows/ must not import Node built-ins (not deterministic; breaks the bundle)',
            },
            {
              group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity'],
              message: 'workflows/ imports @temporalio/workflow only',
            },
            PROVIDER_SDKS,
          ],
          paths: [
            'fs',
            'crypto',
            'http',
            'https',
            'path',
            'os',
            'child_process',
            'net',
            'dns',
            'events',
            'stream',
            'util',
            'buffer',
            'process',
          ].map((name) => ({ name, message: 'workflows/ must not import Node built-ins' })),
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'no process in workflows/' },
        { name: 'setTimeout', message: 'use sleep() or condition() from @temporalio/workflow' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Math',
          property: 'random',
          message: 'use uuid4() or the workflow-seeded Math.random only where determinism is understood',
        },
      ],
    },
  },
  {
    // The simulator is not the product: the app reaches the sandbox only through its seam (sandbox/index.ts).
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/sandbox/*'],
              message: 'src/ imports the sandbox only through its seam: mountSandbox from sandbox/index.ts',
            },
            PROVIDER_SDKS,
          ],
        },
      ],
    },
  },
  {
    // Activities call adapters; the benchmark signs and sends through providers/ helpers like the app does.
    files: ['activities/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [PROVIDER_SDKS] }] },
  },
  {
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: {
        module: 'readonly',
        require: 'readonly',
        __dirname: 'readonly',
        URL: 'readonly',
        process: 'readonly',
        console: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
