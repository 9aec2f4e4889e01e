// Classification metrics. Macro averages follow scikit-learn's defaults: averaged over the
// classes that occur in the true or predicted labels, 0 where a ratio has a zero denominator.

export function confusionMatrix(actual, predicted, numClasses) {
  const m = Array.from({ length: numClasses }, () => new Array(numClasses).fill(0));
  for (let i = 0; i < actual.length; i++) m[actual[i]][predicted[i]]++;
  return m;
}

export function evaluate(actual, predicted, classes) {
  const matrix = confusionMatrix(actual, predicted, classes.length);
  let correct = 0;
  for (let i = 0; i < actual.length; i++) if (actual[i] === predicted[i]) correct++;

  const perClass = {};
  const present = [];
  for (let c = 0; c < classes.length; c++) {
    const tp = matrix[c][c];
    const support = matrix[c].reduce((a, b) => a + b, 0);
    const predictedCount = matrix.reduce((a, row) => a + row[c], 0);
    const precision = predictedCount === 0 ? 0 : tp / predictedCount;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    perClass[classes[c]] = { precision, recall, f1, support };
    if (support > 0 || predictedCount > 0) present.push(perClass[classes[c]]);
  }
  const mean = (key) => present.reduce((a, p) => a + p[key], 0) / present.length;

  return {
    accuracy: correct / actual.length,
    precision: mean('precision'),
    recall: mean('recall'),
    f1: mean('f1'),
    perClass,
    confusion: { labels: classes, matrix },
  };
}
