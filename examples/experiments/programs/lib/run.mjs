// The shared life of every example classifier: flags → env → dataset → split → train →
// evaluate → result file. A model only supplies its flags and a train function.
import { basename } from 'node:path';
import { parseFlags, usage, UsageError } from './args.mjs';
import { loadDataset } from './csv.mjs';
import { evaluate } from './metrics.mjs';
import { writePredictions, writeResult } from './output.mjs';
import { createLogger, simulateWork } from './progress.mjs';
import { trainTestSplit } from './split.mjs';

export const COMMON_FLAGS = {
  dataset: { type: 'string', required: true, description: 'CSV file: numeric features, class label last' },
  'train-ratio': { type: 'number', default: 0.8, min: 0, max: 1, description: 'share of rows used for training' },
  seed: { type: 'integer', default: 42, min: 0, max: 4294967295, description: 'shuffle seed' },
  'sleep-ms': { type: 'integer', default: 0, min: 0, description: 'extra simulated work, for demos and tests' },
};

/**
 * @param {object} spec
 * @param {string} spec.model        name written to the result ("knn", ...)
 * @param {string} spec.summary      one line for --help
 * @param {object} spec.flags        model flags (see parseFlags)
 * @param {(params, split) => void} [spec.validate]  throw UsageError for params that do not fit the data
 * @param {(X, y, params, ctx) => {predict: (row) => number, details?: object}} spec.train
 */
export async function runClassifier(spec) {
  const program = basename(process.argv[1] ?? spec.model);
  try {
    await main(spec, program);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${program}: error: ${err.message}\n(run with --help for usage)\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`${program}: unexpected failure: ${err?.stack ?? err}\n`);
      process.exitCode = 1;
    }
  }
}

async function main(spec, program) {
  const flagSpec = { ...COMMON_FLAGS, ...spec.flags };
  const { values, help } = parseFlags(process.argv.slice(2), flagSpec);
  if (help) {
    process.stdout.write(usage(program, spec.summary, flagSpec) + '\n');
    return;
  }
  const resultFile = process.env.SHEPHERD_RESULT_FILE;
  if (!resultFile) throw new UsageError('SHEPHERD_RESULT_FILE is not set: it names the file the result JSON is written to');

  const log = createLogger(spec.model);
  const { dataset: datasetPath, trainRatio, seed, sleepMs, ...modelParams } = values;
  const data = loadDataset(datasetPath);
  log(`loaded ${data.X.length} rows, ${data.featureNames.length} features, ${data.classes.length} classes from ${data.name}`);

  const split = trainTestSplit(data.y, trainRatio, seed);
  const trainSize = split.train.length;
  const testSize = split.test.length;
  spec.validate?.(modelParams, { trainSize, testSize, numClasses: data.classes.length });
  log(`split: ${trainSize} train / ${testSize} test (ratio ${trainRatio}, seed ${seed})`);

  await simulateWork(sleepMs, log);

  const trainX = split.train.map((i) => data.X[i]);
  const trainY = split.train.map((i) => data.y[i]);
  log(`training ${spec.model} with ${JSON.stringify(modelParams)}`);
  const model = spec.train(trainX, trainY, modelParams, { log, numClasses: data.classes.length, seed });

  const actual = split.test.map((i) => data.y[i]);
  const predicted = split.test.map((i) => model.predict(data.X[i]));
  const metrics = evaluate(actual, predicted, data.classes);
  log(`test accuracy ${metrics.accuracy.toFixed(4)}, macro F1 ${metrics.f1.toFixed(4)}`);

  const predictionsPath = writePredictions(
    process.cwd(),
    split.test.map((row, k) => ({ row, actual: actual[k], predicted: predicted[k] })),
    data.classes,
  );
  log(`wrote ${predictionsPath}`);

  writeResult(resultFile, {
    model: spec.model,
    accuracy: metrics.accuracy,
    precision: metrics.precision,
    recall: metrics.recall,
    f1: metrics.f1,
    trainSize,
    testSize,
    params: { trainRatio, seed, ...modelParams },
    confusion: metrics.confusion,
    perClass: metrics.perClass,
    dataset: { name: data.name, sha256: data.sha256, rows: data.X.length, features: data.featureNames, label: data.labelName },
    ...(model.details ? { details: model.details } : {}),
  });
  log(`wrote result to ${resultFile}`);
}
