// The trainer's configuration: one JSON file (Shepherd writes it and passes its path in
// $SHEPHERD_TRAINING_CONFIG; by hand, `--config file.json`). Every mistake is a ConfigError,
// exit 2: retrying the same configuration cannot fix it.
import { readFileSync } from 'node:fs';

export class ConfigError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const EXIT_CONFIG = 2;

const DEFAULT_PARAMS = { learningRate: 0.05, momentum: 0.9, hidden: 8, batchSize: 16, logEvery: 10, stepDelayMs: 0 };

function positiveInt(value, name) {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}

function path(value, name, optional = false) {
  if ((value === undefined || value === null) && optional) return null;
  if (typeof value !== 'string' || value === '') throw new ConfigError(`${name} must be a path`);
  return value;
}

export function configPathFromArgv(argv, env) {
  const i = argv.indexOf('--config');
  if (i !== -1) {
    if (!argv[i + 1]) throw new ConfigError('--config needs a file');
    return argv[i + 1];
  }
  if (env.SHEPHERD_TRAINING_CONFIG) return env.SHEPHERD_TRAINING_CONFIG;
  throw new ConfigError('no configuration: pass --config <file.json> or set SHEPHERD_TRAINING_CONFIG');
}

export function loadConfig(file) {
  let raw;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read config ${file}: ${err.message}`);
  }
  const params = { ...DEFAULT_PARAMS, ...(raw.params ?? {}) };
  for (const [k, v] of Object.entries(params)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ConfigError(`params.${k} must be a non-negative number`);
  }
  positiveInt(params.hidden, 'params.hidden');
  positiveInt(params.batchSize, 'params.batchSize');
  positiveInt(params.logEvery, 'params.logEvery');
  const fraction = raw.validationFraction ?? 0.2;
  if (typeof fraction !== 'number' || fraction < 0 || fraction >= 1) throw new ConfigError('validationFraction must be in [0, 1)');
  return {
    dataset: path(raw.dataset, 'dataset'),
    validationFraction: fraction,
    seed: Number.isInteger(raw.seed) ? raw.seed : 1,
    steps: positiveInt(raw.steps, 'steps'),
    evalInterval: positiveInt(raw.evalInterval, 'evalInterval'),
    checkpointInterval: positiveInt(raw.checkpointInterval, 'checkpointInterval'),
    checkpointDir: path(raw.checkpointDir, 'checkpointDir'),
    resumeFrom: path(raw.resumeFrom, 'resumeFrom', true),
    baseModel: path(raw.baseModel, 'baseModel', true),
    params,
  };
}
