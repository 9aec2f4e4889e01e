#!/usr/bin/env node
// k-nearest-neighbours classifier on z-scored features.
import { UsageError } from './lib/args.mjs';
import { runClassifier } from './lib/run.mjs';
import { fitStandardizer } from './lib/split.mjs';

const distances = {
  euclidean: (a, b) => Math.sqrt(a.reduce((s, v, j) => s + (v - b[j]) ** 2, 0)),
  manhattan: (a, b) => a.reduce((s, v, j) => s + Math.abs(v - b[j]), 0),
};

await runClassifier({
  model: 'knn',
  summary: 'k-nearest-neighbours classifier (features z-scored on the train set).',
  flags: {
    k: { type: 'integer', default: 5, min: 1, description: 'number of neighbours that vote' },
    metric: { type: 'enum', choices: ['euclidean', 'manhattan'], default: 'euclidean', description: 'distance' },
  },
  validate({ k }, { trainSize }) {
    if (k > trainSize) throw new UsageError(`--k ${k} is larger than the train set (${trainSize} rows)`);
  },
  train(X, y, { k, metric }, { log, numClasses }) {
    const scale = fitStandardizer(X);
    const points = X.map(scale);
    const distance = distances[metric];
    log(`indexed ${points.length} training points`);
    return {
      predict(row) {
        const q = scale(row);
        // Ties in distance go to the earlier training row, so results never depend on sort stability.
        const nearest = points
          .map((p, i) => ({ d: distance(q, p), i }))
          .sort((a, b) => a.d - b.d || a.i - b.i)
          .slice(0, k);
        const votes = new Array(numClasses).fill(0);
        for (const n of nearest) votes[y[n.i]]++;
        const best = Math.max(...votes);
        // A tied vote goes to the tied class with the nearest member.
        return y[nearest.find((n) => votes[y[n.i]] === best).i];
      },
    };
  },
});
