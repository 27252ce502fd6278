import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import noModuleState from './tools/eslint/no-module-state.js';

export default tseslint.config(
  { ignores: ['node_modules', 'src/mm-fast', 'dist', 'out', 'runner/build', '.stryker-tmp'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      'prefer-const': 'error',
    },
  },
  {
    // The model is pure: no clock, no randomness, no I/O (STYLE.md, point 1).
    files: ['src/mm/**/*.ts', 'src/explore/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', 'Date', 'performance', 'process', 'console', 'setTimeout', 'setInterval'],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'the model is deterministic; take choices from the scheduler or the config' }],
      'no-restricted-imports': ['error', { patterns: ['node:*', 'fs', 'path', 'child_process', '../cli/*', '../script/*', '../oracle/*'] }],
    },
  },
  {
    // Code the explorer re-runs in one process: a run may depend only on its decisions.
    files: ['src/mm/**/*.ts', 'src/explore/**/*.ts', 'src/scenarios/**/*.ts'],
    plugins: { ptlab: { rules: { 'no-module-state': noModuleState } } },
    rules: { 'ptlab/no-module-state': 'error' },
  },
);
