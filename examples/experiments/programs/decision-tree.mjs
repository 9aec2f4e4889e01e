#!/usr/bin/env node
// CART decision tree: binary splits on one feature at the midpoint between adjacent values.
import { runClassifier } from './lib/run.mjs';

const impurity = {
  gini(counts, n) {
    let s = 1;
    for (const c of counts) s -= (c / n) ** 2;
    return s;
  },
  entropy(counts, n) {
    let s = 0;
    for (const c of counts) if (c > 0) s -= (c / n) * Math.log2(c / n);
    return s;
  },
};

function majority(counts) {
  let best = 0;
  for (let c = 1; c < counts.length; c++) if (counts[c] > counts[best]) best = c;
  return best;
}

function countClasses(y, idx, numClasses) {
  const counts = new Array(numClasses).fill(0);
  for (const i of idx) counts[y[i]]++;
  return counts;
}

function bestSplit(X, y, idx, numClasses, measure, minLeaf) {
  const n = idx.length;
  const parent = measure(countClasses(y, idx, numClasses), n);
  let best = null;
  for (let f = 0; f < X[0].length; f++) {
    const sorted = [...idx].sort((a, b) => X[a][f] - X[b][f] || a - b);
    const left = new Array(numClasses).fill(0);
    const right = countClasses(y, idx, numClasses);
    for (let p = 0; p < n - 1; p++) {
      const c = y[sorted[p]];
      left[c]++;
      right[c]--;
      const lo = X[sorted[p]][f];
      const hi = X[sorted[p + 1]][f];
      const nl = p + 1;
      const nr = n - nl;
      if (lo === hi || nl < minLeaf || nr < minLeaf) continue;
      const score = (nl / n) * measure(left, nl) + (nr / n) * measure(right, nr);
      // Strictly better only: the first feature/threshold wins ties, keeping the tree deterministic.
      if (score < parent - 1e-12 && (best === null || score < best.score - 1e-12)) {
        best = { feature: f, threshold: (lo + hi) / 2, score };
      }
    }
  }
  return best;
}

function build(X, y, idx, depth, opts) {
  const counts = countClasses(y, idx, opts.numClasses);
  const leaf = { leaf: true, label: majority(counts), size: idx.length };
  if (depth >= opts.maxDepth || idx.length < opts.minSamplesSplit || counts.some((c) => c === idx.length)) return leaf;
  const split = bestSplit(X, y, idx, opts.numClasses, opts.measure, opts.minSamplesLeaf);
  if (!split) return leaf;
  const l = idx.filter((i) => X[i][split.feature] <= split.threshold);
  const r = idx.filter((i) => X[i][split.feature] > split.threshold);
  return {
    leaf: false,
    feature: split.feature,
    threshold: split.threshold,
    left: build(X, y, l, depth + 1, opts),
    right: build(X, y, r, depth + 1, opts),
  };
}

function shape(node) {
  if (node.leaf) return { depth: 0, leaves: 1 };
  const a = shape(node.left);
  const b = shape(node.right);
  return { depth: 1 + Math.max(a.depth, b.depth), leaves: a.leaves + b.leaves };
}

await runClassifier({
  model: 'decision-tree',
  summary: 'CART decision tree classifier.',
  flags: {
    'max-depth': { type: 'integer', default: 5, min: 1, description: 'maximum tree depth' },
    'min-samples-split': { type: 'integer', default: 2, min: 2, description: 'smallest node that may be split' },
    'min-samples-leaf': { type: 'integer', default: 1, min: 1, description: 'smallest allowed leaf' },
    criterion: { type: 'enum', choices: ['gini', 'entropy'], default: 'gini', description: 'split quality measure' },
  },
  train(X, y, params, { log, numClasses }) {
    const root = build(X, y, X.map((_, i) => i), 0, { ...params, numClasses, measure: impurity[params.criterion] });
    const details = shape(root);
    log(`grew tree: depth ${details.depth}, ${details.leaves} leaves`);
    return {
      details,
      predict(row) {
        let node = root;
        while (!node.leaf) node = row[node.feature] <= node.threshold ? node.left : node.right;
        return node.label;
      },
    };
  },
});
