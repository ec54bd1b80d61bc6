// ESLint flat config: ESLint's and typescript-eslint's recommended rules on every TypeScript and
// JavaScript file of the repository. Not type-aware: recommendedTypeChecked takes over a minute on
// the 2-core machines and reports some 800 problems, nearly all no-unsafe-* on untyped JSON and
// commander flags that the code checks itself.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'models/', 'data/', 'coverage/', 'src/http/generated/', 'test/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // A leading underscore marks a binding left unused on purpose (a field dropped from a rest copy, express's 4-argument error handler).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['test/helpers/openapi.ts'],
    // It walks the parsed OpenAPI document, plain JSON of no static type, by key.
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
