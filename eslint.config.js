// Lint rules that the code relied on as comments. The most important: workflow and shared code
// is bundled by the Temporal SDK into a deterministic sandbox, where Node built-ins and I/O
// modules fail at run time; here they fail at lint time instead.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

/** What deterministic code (workflows, shared) must not import at run time. */
const sandboxRestrictions = (allowedLocal) => ({
  paths: [
    ...nodeBuiltins.map((name) => ({
      name,
      message: 'Node built-ins are not available in the workflow sandbox; move this to an activity.',
    })),
    {
      name: '@temporalio/activity',
      message: 'Activity APIs do not work in workflow or shared code; use @temporalio/workflow or @temporalio/common.',
    },
    { name: '@temporalio/worker', message: 'The worker package is Node-only.' },
    {
      name: '@temporalio/client',
      message: 'The client package is Node-only; workflows talk to other workflows through @temporalio/workflow.',
    },
    ...['pg', 'pino', 'execa', 'yaml', 'commander', 'tsx'].map((name) => ({
      name,
      message: 'I/O libraries belong in activities, db, config or the CLI.',
    })),
  ],
  patterns: [
    {
      group: ['**/activities/**', '**/db/**', '**/config/**', '**/workers/**', '**/client/**', '**/cli/**'],
      allowTypeImports: true,
      message: `${allowedLocal}: only src/shared (and \`import type\`) may be imported here.`,
    },
  ],
});

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', 'dist/**', 'examples/**/*.py', '**/*.cjs', 'test/histories/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Example apps and test fixtures are standalone CommonJS programs run by plain node (and the
    // analysis apps' flaws are deliberate: the analyzers must find them, not this lint).
    files: ['examples/**/apps/**/*.js', 'test/**/fixtures/**/*.js', 'test/**/e2e-fixtures/**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    // The dashboard's page script runs in the browser, with uPlot loaded by its own <script> tag.
    files: ['src/dashboard/public/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.browser, uPlot: 'readonly' } },
  },
  {
    // Type-aware rules for the TypeScript sources (tsconfig.json covers them all).
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['vitest.config.ts', 'vitest.unit.config.ts', 'vitest.cluster.config.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // A promise nobody awaits loses its error (and in a workflow, its ordering).
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-deprecated': 'error',
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', sandboxRestrictions('Workflow code')] },
  },
  {
    files: ['src/shared/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        (() => {
          const r = sandboxRestrictions('Shared code');
          r.patterns.push({
            group: ['**/workflows/**'],
            allowTypeImports: false,
            message: 'Shared code is imported by workflows, not the other way round.',
          });
          return r;
        })(),
      ],
    },
  },
  {
    // Nothing but the worker and tests may import activities at run time.
    files: ['src/client/**/*.ts', 'src/cli/**/*.ts', 'src/db/**/*.ts', 'src/config/**/*.ts', 'src/dashboard/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/activities/**', '**/workers/**'],
              message: 'Only the worker and tests import activities; share code through src/db or src/shared.',
            },
            {
              group: ['**/workflows/**'],
              allowTypeImports: true,
              message: 'Import workflow definitions from src/shared; workflows themselves only as `import type`.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/activities/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/workflows/**'],
              allowTypeImports: true,
              message: 'Activities use src/shared, never workflow modules (only `import type`).',
            },
            { group: ['**/workers/**', '**/cli/**'], message: 'Activities are imported by workers, not the other way round.' },
          ],
        },
      ],
    },
  },
);
