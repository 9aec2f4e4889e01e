import { defineConfig } from 'vitest/config';

// Pure unit tests: no Temporal server, no PostgreSQL, no global set-up. `npm run test:unit` runs
// them in seconds; `npm test` runs them again with everything else.
export const unitTests = [
  'test/codec.test.ts',
  'test/thread-memo.test.ts',
  'test/definition-validator.test.ts',
  'test/env.test.ts',
  'test/failure-types.test.ts',
  'test/simulation-plan.test.ts',
  'test/training-units.test.ts',
  'test/step-logs.test.ts',
  'test/step-process-facts.test.ts',
  'test/worker-memory-settings.test.ts',
];

export default defineConfig({
  test: {
    include: unitTests,
    pool: 'threads',
  },
});
