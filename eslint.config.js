// Lint rules for ioctl's JavaScript: the runtime (src/runtime/js, CommonJS on Node.js) and the
// dashboard's front end (src/session/dashboard/web, ES modules in the browser, tested on Node.js).
const js = require('@eslint/js')
const globals = require('globals')

const rules = {
  'no-undef': 'error',
  'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
  eqeqeq: ['error', 'always', { null: 'ignore' }],
  'no-var': 'error',
  'prefer-const': 'error',
}

module.exports = [
  {
    ignores: ['**/node_modules/**', 'target/**', 'templates/**', '**/.ioctl/**', 'src/session/dashboard/web/vendor/**'],
  },
  js.configs.recommended,
  {
    files: ['**/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'commonjs',
      globals: { ...globals.node },
    },
    rules,
  },
  // The dashboard: plain ES modules loaded by the page (no build step), so browser globals only.
  {
    files: ['src/session/dashboard/web/**/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.browser },
    },
    rules,
  },
  // Its unit tests run in Node.js (node --test).
  {
    files: ['src/session/dashboard/web/test/**/*.js'],
    languageOptions: { globals: { ...globals.node } },
  },
]
