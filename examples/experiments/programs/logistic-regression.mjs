#!/usr/bin/env node
// Logistic regression trained by full-batch gradient descent on z-scored features:
// multinomial (softmax) or one-vs-rest (one sigmoid per class). Weights start at zero, so a
// fixed seed and flags always give the same model.
import { runClassifier } from './lib/run.mjs';
import { fitStandardizer } from './lib/split.mjs';

const withBias = (row) => [1, ...row];

function softmax(z) {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

const sigmoid = (v) => 1 / (1 + Math.exp(-v));
const dot = (w, x) => w.reduce((s, wj, j) => s + wj * x[j], 0);

/** One gradient-descent run; probs(W, x) gives per-class probabilities that the loss is taken on. */
function descend(X, y, numClasses, { learningRate, epochs, l2 }, probs, lossOf, log) {
  const d = X[0].length;
  const W = Array.from({ length: numClasses }, () => new Array(d).fill(0));
  const every = Math.max(1, Math.floor(epochs / 10));
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const grad = Array.from({ length: numClasses }, () => new Array(d).fill(0));
    let loss = 0;
    for (let i = 0; i < X.length; i++) {
      const p = probs(W, X[i]);
      loss += lossOf(p, y[i]);
      for (let c = 0; c < numClasses; c++) {
        const err = p[c] - (y[i] === c ? 1 : 0);
        for (let j = 0; j < d; j++) grad[c][j] += err * X[i][j];
      }
    }
    for (let c = 0; c < numClasses; c++) {
      for (let j = 0; j < d; j++) {
        // The bias (j = 0) is not regularised.
        const reg = j === 0 ? 0 : l2 * W[c][j];
        W[c][j] -= learningRate * (grad[c][j] / X.length + reg);
      }
    }
    if (epoch % every === 0 || epoch === epochs) log(`epoch ${epoch}/${epochs} loss ${(loss / X.length).toFixed(5)}`);
  }
  return W;
}

const strategies = {
  multinomial: {
    probs: (W, x) => softmax(W.map((w) => dot(w, x))),
    loss: (p, yi) => -Math.log(Math.max(p[yi], 1e-15)),
  },
  // One-vs-rest: each class's sigmoid is an independent binary model; the gradient has the
  // same form, so both share descend().
  ovr: {
    probs: (W, x) => W.map((w) => sigmoid(dot(w, x))),
    loss: (p, yi) => -p.reduce((s, pc, c) => s + Math.log(Math.max(c === yi ? pc : 1 - pc, 1e-15)), 0),
  },
};

await runClassifier({
  model: 'logistic-regression',
  summary: 'Logistic regression (multinomial softmax or one-vs-rest) trained by gradient descent.',
  flags: {
    'learning-rate': { type: 'number', default: 0.1, exclusiveMin: 0, description: 'gradient descent step size' },
    epochs: { type: 'integer', default: 1000, min: 1, description: 'full passes over the train set' },
    l2: { type: 'number', default: 0.001, min: 0, description: 'L2 penalty on the weights' },
    'multi-class': { type: 'enum', choices: ['multinomial', 'ovr'], default: 'multinomial', description: 'multi-class strategy' },
  },
  train(X, y, params, { log, numClasses }) {
    const scale = fitStandardizer(X);
    const strategy = strategies[params.multiClass];
    const W = descend(X.map((r) => withBias(scale(r))), y, numClasses, params, strategy.probs, strategy.loss, log);
    return {
      predict(row) {
        const p = strategy.probs(W, withBias(scale(row)));
        let best = 0;
        for (let c = 1; c < p.length; c++) if (p[c] > p[best]) best = c;
        return best;
      },
    };
  },
});
