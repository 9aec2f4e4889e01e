// Loads a numeric CSV (header row, numeric features, class label last) and splits it into
// training and validation rows with a seeded shuffle, so a resumed run sees the same split.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from './config.mjs';

/** mulberry32: 32-bit state, so the generator's position can be saved in a checkpoint. */
export function createRng(state) {
  let a = state >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.state = () => a;
  return next;
}

export function loadCsv(path) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read dataset ${path}: ${err.code ?? err.message}`);
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 2) throw new ConfigError(`dataset ${path} has no rows`);
  const header = lines[0].split(',').map((h) => h.trim());
  const X = [];
  const labels = [];
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i].split(',').map((c) => c.trim());
    if (cells.length !== header.length) throw new ConfigError(`dataset ${path}: line ${i + 1} has ${cells.length} columns, header has ${header.length}`);
    const row = cells.slice(0, -1).map(Number);
    if (row.some((v) => !Number.isFinite(v))) throw new ConfigError(`dataset ${path}: line ${i + 1} has a non-numeric feature`);
    X.push(row);
    labels.push(cells[cells.length - 1]);
  }
  const classes = [...new Set(labels)].sort();
  if (classes.length < 2) throw new ConfigError(`dataset ${path} has a single class: nothing to learn`);
  const index = new Map(classes.map((c, i) => [c, i]));
  return { X, y: labels.map((l) => index.get(l)), classes, sha256: createHash('sha256').update(text).digest('hex') };
}

/**
 * Seeded split: round(n × validationFraction) rows for validation. A fraction too small for the
 * dataset leaves validation empty; the trainer then reports val_loss null with that reason
 * instead of inventing a number.
 */
export function split(data, validationFraction, seed) {
  const rng = createRng(seed ^ 0x5eed);
  const order = data.X.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const nVal = Math.round(order.length * validationFraction);
  const val = order.slice(0, nVal);
  const train = order.slice(nVal);
  if (train.length === 0) throw new ConfigError(`validationFraction ${validationFraction} leaves no training rows out of ${order.length}`);
  // z-score scaling fitted on training rows only.
  const d = data.X[0].length;
  const mean = new Array(d).fill(0);
  const std = new Array(d).fill(0);
  for (const i of train) for (let j = 0; j < d; j++) mean[j] += data.X[i][j] / train.length;
  for (const i of train) for (let j = 0; j < d; j++) std[j] += (data.X[i][j] - mean[j]) ** 2 / train.length;
  const scale = (row) => row.map((v, j) => (v - mean[j]) / (Math.sqrt(std[j]) || 1));
  const pick = (idx) => ({ X: idx.map((i) => scale(data.X[i])), y: idx.map((i) => data.y[i]) });
  return { train: pick(train), val: pick(val) };
}
