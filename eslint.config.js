// @ts-check
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/** Layers, lowest first: a folder may import only from folders before it (DESIGN.md section 2). */
const LAYERS = [
  'core',
  'wire',
  'identity',
  'transport',
  'sim',
  'pnrp',
  'graph',
  'group',
  'node',
  'cli',
]
// transport, pnrp, graph and group sit beside each other where DESIGN.md says so.
const ALLOWED = {
  core: [],
  wire: ['core'],
  identity: ['core', 'wire'],
  transport: ['core', 'wire', 'identity'],
  // The simulator stands in for the network under protocol code; only tests and benches use it.
  sim: ['core', 'wire', 'identity', 'transport'],
  pnrp: ['core', 'wire', 'identity', 'transport'],
  graph: ['core', 'wire', 'identity', 'transport'],
  group: ['core', 'wire', 'identity', 'transport', 'graph', 'pnrp'],
  node: ['core', 'wire', 'identity', 'transport', 'pnrp', 'graph', 'group'],
  cli: ['core', 'wire', 'identity', 'transport', 'pnrp', 'graph', 'group', 'node'],
}

/** Folders whose code must take time and randomness from its caller (DESIGN.md section 7). */
const HOSTS = ['core', 'node', 'cli']

// Randomness and timers reached by import rather than through a global.
const AMBIENT_IMPORTS = [
  {
    name: 'node:crypto',
    importNames: ['randomBytes', 'randomInt', 'randomUUID', 'getRandomValues', 'randomFillSync'],
    message: 'Use the injected Random.',
  },
  { name: 'node:timers', message: 'Use the injected Clock.' },
  { name: 'node:timers/promises', message: 'Use the injected Clock.' },
]

const layerRules = LAYERS.map((layer) => ({
  files: [`src/${layer}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        paths: HOSTS.includes(layer) ? [] : AMBIENT_IMPORTS,
        patterns: [
          ...LAYERS.filter((l) => l !== layer && !ALLOWED[layer].includes(l)).map((l) => ({
            group: [`../${l}/*`, `../../${l}/*`],
            message: `src/${layer} may not import src/${l}: arrows point down (DESIGN.md section 2).`,
          })),
          {
            group: ['../index.ts', '../../index.ts', '../index.js'],
            message: 'Import from the layer that owns it, not the package root.',
          },
        ],
      },
    ],
  },
}))

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      // Validators match control characters on purpose, to refuse them.
      'no-control-regex': 'off',
      eqeqeq: ['error', 'always'],
    },
  },
  ...layerRules,
  {
    // Protocol code takes time and randomness from its caller (DESIGN.md section 7).
    files: ['src/**/*.ts'],
    ignores: HOSTS.map((h) => `src/${h}/**`),
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Use the injected Clock.' },
        { object: 'Math', property: 'random', message: 'Use the injected Random.' },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use the injected Clock.' },
        { name: 'setInterval', message: 'Use the injected Clock.' },
      ],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', console: 'readonly' },
    },
  },
)
