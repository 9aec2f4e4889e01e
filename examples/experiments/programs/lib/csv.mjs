// Loads a simple numeric CSV (header row, numeric feature columns, class label in the last
// column). Malformed input is a UsageError: retrying the same file cannot fix it.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { UsageError } from './args.mjs';

export function loadDataset(path) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read dataset ${path}: ${err.code ?? err.message}`);
  }
  const sha256 = createHash('sha256').update(text).digest('hex');
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  if (lines.length === 0) throw new UsageError(`dataset ${path} is empty`);

  const headerLine = lines[0];
  const header = headerLine.split(',').map((h) => h.trim());
  if (header.length < 2) throw new UsageError(`dataset ${path}: header needs at least one feature column and a label column`);
  if (header.some((h) => h === '')) throw new UsageError(`dataset ${path}: header has an empty column name`);

  const X = [];
  const labels = [];
  for (let i = 1; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i];
    if (line.trim() === '') throw new UsageError(`dataset ${path}: line ${lineNo} is blank`);
    // Appended outputs repeat their header (the seed found 42 of them); name it plainly.
    if (line === headerLine) throw new UsageError(`dataset ${path}: line ${lineNo} repeats the header`);
    if (line.includes('"')) throw new UsageError(`dataset ${path}: line ${lineNo} has quoted fields, which are not supported`);
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length !== header.length) {
      throw new UsageError(`dataset ${path}: line ${lineNo} has ${cells.length} columns, header has ${header.length}`);
    }
    const row = [];
    for (let c = 0; c < cells.length - 1; c++) {
      const value = Number(cells[c]);
      if (cells[c] === '' || !Number.isFinite(value)) {
        throw new UsageError(`dataset ${path}: line ${lineNo} column ${header[c]} is not a number: ${JSON.stringify(cells[c])}`);
      }
      row.push(value);
    }
    const label = cells[cells.length - 1];
    if (label === '') throw new UsageError(`dataset ${path}: line ${lineNo} has an empty ${header[header.length - 1]}`);
    X.push(row);
    labels.push(label);
  }
  if (X.length === 0) throw new UsageError(`dataset ${path} has a header but no rows`);

  // Sorted so class indexes do not depend on row order.
  const classes = [...new Set(labels)].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  const y = labels.map((l) => index.get(l));
  if (classes.length < 2) throw new UsageError(`dataset ${path} has only one class (${classes[0]}): nothing to classify`);

  return {
    name: basename(path),
    sha256,
    featureNames: header.slice(0, -1),
    labelName: header[header.length - 1],
    classes,
    X,
    y,
  };
}
