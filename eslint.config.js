// Lint rules for ioctl's runtime JavaScript (src/runtime/js): CommonJS on Node.js.
const js = require('@eslint/js')
const globals = require('globals')

module.exports = [
  { ignores: ['**/node_modules/**', 'target/**', 'templates/**', '**/.ioctl/**'] },
  js.configs.recommended,
  {
    files: ['**/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'commonjs',
      globals: { ...globals.node },
    },
    rules: {
      'no-undef': 'error',
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-var': 'error',
      'prefer-const': 'error',
    },
  },
]
