// A one-hidden-layer perceptron (tanh, softmax, cross-entropy) trained by mini-batch SGD with
// momentum. Plain arrays: small enough to read, big enough to show a falling loss curve.

export function initModel(d, hidden, classes, rng) {
  const mat = (rows, cols, scale) => Array.from({ length: rows }, () => Array.from({ length: cols }, () => (rng() * 2 - 1) * scale));
  const zeros = (rows, cols) => Array.from({ length: rows }, () => new Array(cols).fill(0));
  return {
    W1: mat(hidden, d, Math.sqrt(6 / (d + hidden))),
    b1: new Array(hidden).fill(0),
    W2: mat(classes, hidden, Math.sqrt(6 / (hidden + classes))),
    b2: new Array(classes).fill(0),
    // Momentum buffers belong in the checkpoint: without them a resumed run would diverge.
    vW1: zeros(hidden, d),
    vb1: new Array(hidden).fill(0),
    vW2: zeros(classes, hidden),
    vb2: new Array(classes).fill(0),
  };
}

function forward(m, x) {
  const h = m.W1.map((w, i) => Math.tanh(w.reduce((s, wj, j) => s + wj * x[j], m.b1[i])));
  const z = m.W2.map((w, k) => w.reduce((s, wj, j) => s + wj * h[j], m.b2[k]));
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return { h, p: e.map((v) => v / sum) };
}

const EPS = 1e-12;

/** Mean cross-entropy and accuracy over a set; null for an empty set. */
export function evaluate(m, set) {
  if (set.X.length === 0) return null;
  let loss = 0;
  let correct = 0;
  set.X.forEach((x, i) => {
    const { p } = forward(m, x);
    loss -= Math.log(p[set.y[i]] + EPS);
    if (p.indexOf(Math.max(...p)) === set.y[i]) correct++;
  });
  return { loss: loss / set.X.length, accuracy: correct / set.X.length };
}

/** One SGD step on the rows `batch` (indexes into `set`); returns the batch's mean loss. */
export function sgdStep(m, set, batch, lr, momentum) {
  const H = m.W1.length;
  const C = m.W2.length;
  const d = m.W1[0].length;
  const gW1 = Array.from({ length: H }, () => new Array(d).fill(0));
  const gb1 = new Array(H).fill(0);
  const gW2 = Array.from({ length: C }, () => new Array(H).fill(0));
  const gb2 = new Array(C).fill(0);
  let loss = 0;
  for (const i of batch) {
    const x = set.X[i];
    const { h, p } = forward(m, x);
    loss -= Math.log(p[set.y[i]] + EPS);
    const dz = p.map((v, k) => v - (k === set.y[i] ? 1 : 0));
    const dh = new Array(H).fill(0);
    for (let k = 0; k < C; k++) {
      gb2[k] += dz[k];
      for (let j = 0; j < H; j++) {
        gW2[k][j] += dz[k] * h[j];
        dh[j] += dz[k] * m.W2[k][j];
      }
    }
    for (let j = 0; j < H; j++) {
      const da = dh[j] * (1 - h[j] * h[j]);
      gb1[j] += da;
      for (let q = 0; q < d; q++) gW1[j][q] += da * x[q];
    }
  }
  const n = batch.length;
  const update = (w, v, g) => {
    for (let i = 0; i < w.length; i++) {
      if (Array.isArray(w[i])) update(w[i], v[i], g[i]);
      else {
        v[i] = momentum * v[i] - (lr * g[i]) / n;
        w[i] += v[i];
      }
    }
  };
  update(m.W1, m.vW1, gW1);
  update(m.b1, m.vb1, gb1);
  update(m.W2, m.vW2, gW2);
  update(m.b2, m.vb2, gb2);
  return loss / n;
}
