import type { ExperimentBatchInput } from '../../src/shared/experiments/schemas.js';

/** An experiment running an inline Node program (argv, not a shell) that writes its result file. */
export function nodeExperiment(name: string, body: string, extra: Partial<ExperimentBatchInput['experiments'][number]> = {}) {
  const program = `const fs = require('node:fs'); const done = (m) => fs.writeFileSync(process.env.SHEPHERD_RESULT_FILE, JSON.stringify(m));\n${body}`;
  return { name, command: process.execPath, args: ['-e', program], ...extra };
}

export const iris = (name: string, program: 'knn' | 'decision-tree' | 'logistic-regression', args: string[] = []) => ({
  name,
  command: 'node',
  args: [
    `{project}/examples/experiments/programs/${program}.mjs`,
    '--dataset',
    '{dataset}',
    '--seed',
    '42',
    '--train-ratio',
    '0.8',
    ...args,
  ],
  dataset: 'examples/experiments/data/iris.csv',
  params: { model: program, trainRatio: 0.8 },
  outputs: ['predictions.csv'],
});
