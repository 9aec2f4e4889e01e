#!/usr/bin/env node
// A small but real trainer: a tiny MLP on a CSV dataset, mini-batch SGD with momentum, that
// writes checkpoints, resumes from one exactly where it stopped, and reports train and
// validation loss. No dependencies and no GPU, so it runs wherever `node` does.
//
// Progress protocol (stdout, one JSON object per line; Shepherd's trainModel reads it):
//   {"event":"start","step":0,"total_steps":500,"resumed_from":null}
//   {"event":"step","step":10,"loss":0.93}
//   {"event":"eval","step":50,"val_loss":0.41,"val_accuracy":0.9}
//   {"event":"eval","step":50,"val_loss":null,"reason":"validation set is empty"}
//   {"event":"checkpoint","step":100,"path":"/abs/step-00000100.json","val_loss":0.38}
// Human-readable logging goes to stderr. The final metrics go to $SHEPHERD_RESULT_FILE.
//
// SIGTERM (Shepherd pausing or cancelling the job): finish the current step, save a checkpoint,
// exit 143. A later run given that checkpoint continues with the next step.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadCheckpoint, saveCheckpoint } from './lib/checkpoint.mjs';
import { ConfigError, EXIT_CONFIG, configPathFromArgv, loadConfig } from './lib/config.mjs';
import { createRng, loadCsv, split } from './lib/data.mjs';
import { evaluate, initModel, sgdStep } from './lib/mlp.mjs';

const emit = (event) => process.stdout.write(JSON.stringify(event) + '\n');
const log = (message) => process.stderr.write(`[trainer] ${message}\n`);
const round = (v) => (v === null || v === undefined ? null : Number(v.toFixed(6)));

let stopRequested = false;
process.on('SIGTERM', () => {
  stopRequested = true;
});

function writeResult(result) {
  const file = process.env.SHEPHERD_RESULT_FILE;
  if (!file) {
    log(`result: ${JSON.stringify(result)}`);
    return;
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(result, null, 2));
  renameSync(`${file}.tmp`, file);
}

async function main() {
  const config = loadConfig(configPathFromArgv(process.argv.slice(2), process.env));
  const { params } = config;
  const data = loadCsv(config.dataset);
  const { train, val } = split(data, config.validationFraction, config.seed);
  const identity = { datasetSha256: data.sha256, validationFraction: config.validationFraction, seed: config.seed, hidden: params.hidden };

  let step = 0;
  let rng = createRng(config.seed);
  let model = initModel(data.X[0].length, params.hidden, data.classes.length, rng);
  if (config.resumeFrom) {
    const ckpt = loadCheckpoint(config.resumeFrom, identity);
    step = ckpt.step;
    model = ckpt.model;
    rng = createRng(ckpt.rngState);
    log(`resumed from ${config.resumeFrom} at step ${step}`);
  } else if (config.baseModel) {
    const base = loadCheckpoint(config.baseModel, { hidden: params.hidden });
    if (base.model.W1[0].length !== data.X[0].length || base.model.W2.length !== data.classes.length) {
      throw new ConfigError(`base model ${config.baseModel} has a different number of features or classes than ${config.dataset}`);
    }
    // Weights from the base model, fresh momentum: fine-tuning starts at step 0.
    model = { ...model, W1: base.model.W1, b1: base.model.b1, W2: base.model.W2, b2: base.model.b2 };
    log(`initialised from base model ${config.baseModel}`);
  }
  log(`${train.X.length} training rows, ${val.X.length} validation rows, steps ${step + 1}..${config.steps}`);
  emit({ event: 'start', step, total_steps: config.steps, resumed_from: config.resumeFrom });

  let lastVal = null;
  let lastCheckpoint = config.resumeFrom;
  let lastSavedStep = config.resumeFrom ? step : -1;
  let lossSum = 0;
  let lossCount = 0;
  let trainLoss = null;

  const checkpoint = () => {
    const file = saveCheckpoint(config.checkpointDir, { step, ...identity, rngState: rng.state(), model });
    lastCheckpoint = file;
    lastSavedStep = step;
    emit({ event: 'checkpoint', step, path: file, ...(lastVal?.step === step ? { val_loss: round(lastVal.loss) } : {}) });
  };

  while (step < config.steps) {
    if (stopRequested) break;
    step++;
    const batch = Array.from({ length: Math.min(params.batchSize, train.X.length) }, () => Math.floor(rng() * train.X.length));
    lossSum += sgdStep(model, train, batch, params.learningRate, params.momentum);
    lossCount++;
    const last = step === config.steps;
    if (step % params.logEvery === 0 || last) {
      trainLoss = lossSum / lossCount;
      emit({ event: 'step', step, loss: round(trainLoss) });
      lossSum = 0;
      lossCount = 0;
    }
    if (step % config.evalInterval === 0 || last) {
      const ev = evaluate(model, val);
      if (ev) {
        lastVal = { step, loss: ev.loss, accuracy: ev.accuracy };
        emit({ event: 'eval', step, val_loss: round(ev.loss), val_accuracy: round(ev.accuracy) });
      } else {
        emit({ event: 'eval', step, val_loss: null, reason: `validation set is empty (validationFraction ${config.validationFraction} of ${data.X.length} rows)` });
      }
    }
    if (step % config.checkpointInterval === 0 || last) checkpoint();
    // Yield every step, so SIGTERM is seen even when there is no delay.
    if (params.stepDelayMs > 0) await sleep(params.stepDelayMs);
    else await new Promise((r) => setImmediate(r));
  }

  if (stopRequested && step < config.steps) {
    if (lastSavedStep !== step) checkpoint();
    log(`stopped by SIGTERM at step ${step}; checkpoint ${lastCheckpoint}`);
    process.exit(143);
  }

  const trainEval = evaluate(model, train);
  const result = {
    step,
    totalSteps: config.steps,
    trainLoss: round(trainLoss),
    trainAccuracy: round(trainEval.accuracy),
    valLoss: lastVal ? round(lastVal.loss) : null,
    valAccuracy: lastVal ? round(lastVal.accuracy) : null,
    valStep: lastVal?.step ?? null,
    checkpoint: lastCheckpoint,
    resumedFrom: config.resumeFrom,
    rows: { train: train.X.length, validation: val.X.length },
    datasetSha256: data.sha256,
  };
  writeResult(result);
  log(`done: step ${step}, train loss ${result.trainLoss}, val loss ${result.valLoss}`);
}

main().catch((err) => {
  log(err instanceof ConfigError ? `configuration error: ${err.message}` : (err.stack ?? String(err)));
  process.exit(err instanceof ConfigError ? EXIT_CONFIG : 1);
});
