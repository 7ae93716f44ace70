import js from '@eslint/js';
import ts from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';

/** Layer boundaries (see STYLE.md): only src/engine imports onnxruntime-web, only src/storage imports idb. */
const restrict = (extra = []) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: [
        {
          group: ['onnxruntime-web', 'onnxruntime-web/*'],
          message: 'Only src/engine/ort-engine.ts imports onnxruntime-web.',
        },
        { group: ['idb'], message: 'Only src/storage imports idb.' },
        ...extra,
      ],
    },
  ],
});

export default ts.config(
  { ignores: ['dist/', 'node_modules/', '.cache/', 'tests/fixtures/'] },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: ts.parser, extraFileExtensions: ['.svelte'] } },
  },
  {
    // State classes keep plain Maps/Sets/Dates as local working data inside methods, never as
    // reactive fields (those are declared with $state); the rule cannot tell the two apart.
    files: ['src/state/**'],
    rules: { 'svelte/prefer-svelte-reactivity': 'off' },
  },
  { files: ['src/**'], ignores: ['src/engine/ort-engine.ts', 'src/storage/**'], rules: restrict() },
  {
    files: ['src/ui/**'],
    rules: restrict([
      { group: ['**/workers/*.worker', '**/engine/*'], message: 'The UI talks to workers through src/state.' },
    ]),
  },
  {
    files: ['src/core/**'],
    rules: restrict([{ group: ['**/data/*', '**/engine/*', '**/state/*', '**/ui/*'], message: 'src/core is pure.' }]),
  },
);
