import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {ignores: ['dist/', 'node_modules/', '.peers/', 'coverage/', 'infra/lambda/dist/', 'oclif.manifest.json']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {globals: {process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly'}},
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
    },
  },
  // The layers (docs: architecture): dependencies point downwards only.
  {
    files: ['src/core/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/adapters/**', '**/services/**', '**/ui/**', '**/commands/**', '**/base-command*', '@oclif/*', 'listr2', '@inquirer/*', 'better-sqlite3'],
              message: 'src/core is pure logic: it imports nothing above it (adapters, services, ui, commands, the base command).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/services/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/ui/**', '**/commands/**', '**/base-command*', '@oclif/*', 'listr2', '@inquirer/*'],
              // A service may name a type a UI module defines (a prompter it is handed); it may not run UI code.
              allowTypeImports: true,
              message: 'A service does not import the UI, the commands or the base command: it returns results and takes its prompter as a port.',
            },
          ],
        },
      ],
    },
  },
)
