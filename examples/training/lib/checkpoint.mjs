// Checkpoints: the whole training state (weights, momentum, RNG position, step) in one JSON
// file, written to a temporary name and renamed, so a crash mid-write never leaves a checkpoint
// that looks complete but is not. A "checkpoint" event is printed only after the rename.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from './config.mjs';

export const FORMAT = 'shepherd-example-mlp/1';

export function checkpointPath(dir, step) {
  return join(dir, `step-${String(step).padStart(8, '0')}.json`);
}

export function saveCheckpoint(dir, state) {
  mkdirSync(dir, { recursive: true });
  const file = checkpointPath(dir, state.step);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ format: FORMAT, ...state }));
  renameSync(tmp, file);
  return file;
}

/** A checkpoint to continue from (`expect` guards against resuming on other data or a different network). */
export function loadCheckpoint(file, expect) {
  let ckpt;
  try {
    ckpt = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read checkpoint ${file}: ${err.code ?? err.message}`);
  }
  if (ckpt.format !== FORMAT) throw new ConfigError(`${file} is not a ${FORMAT} checkpoint`);
  for (const [key, value] of Object.entries(expect)) {
    if (ckpt[key] !== value) throw new ConfigError(`checkpoint ${file} was made with ${key} ${ckpt[key]}, this run has ${value}`);
  }
  return ckpt;
}
