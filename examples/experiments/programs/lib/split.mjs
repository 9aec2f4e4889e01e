// Deterministic seeded shuffle and train/test split: the same seed and ratio always give the
// same rows in each set, on any machine, so a retried attempt reproduces the first one.
import { UsageError } from './args.mjs';

/** mulberry32: tiny, fast, good enough for shuffling; fully determined by the 32-bit seed. */
export function createRng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffledIndexes(n, seed) {
  const rng = createRng(seed);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx;
}

/**
 * Stratified split: each class contributes round(count × ratio) rows to training, so a small
 * test set still sees every class. Refuses a split that leaves either set empty.
 */
export function trainTestSplit(y, trainRatio, seed) {
  const n = y.length;
  const order = shuffledIndexes(n, seed);
  const quota = new Map();
  for (const label of y) quota.set(label, (quota.get(label) ?? 0) + 1);
  for (const [label, count] of quota) quota.set(label, Math.round(count * trainRatio));
  const train = [];
  const test = [];
  for (const i of order) {
    const left = quota.get(y[i]);
    if (left > 0) {
      train.push(i);
      quota.set(y[i], left - 1);
    } else {
      test.push(i);
    }
  }
  if (train.length === 0) {
    throw new UsageError(`train set would be empty: --train-ratio ${trainRatio} of ${n} rows leaves 0 rows for training`);
  }
  if (test.length === 0) {
    throw new UsageError(`test set would be empty: --train-ratio ${trainRatio} of ${n} rows leaves 0 rows for testing`);
  }
  return { train, test };
}

/** z-score scaling fitted on the training rows only, so the test set never leaks into it. */
export function fitStandardizer(X) {
  const d = X[0].length;
  const mean = new Array(d).fill(0);
  const std = new Array(d).fill(0);
  for (const row of X) for (let j = 0; j < d; j++) mean[j] += row[j] / X.length;
  for (const row of X) for (let j = 0; j < d; j++) std[j] += (row[j] - mean[j]) ** 2 / X.length;
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]) || 1;
  return (row) => row.map((v, j) => (v - mean[j]) / std[j]);
}
