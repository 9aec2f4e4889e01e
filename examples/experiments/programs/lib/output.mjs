// Output files. Both are written whole and renamed into place: a killed run leaves no half
// file, and a rerun replaces rather than appends (no repeated headers).
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

function writeAtomic(path, content) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

export function writeResult(path, result) {
  writeAtomic(path, JSON.stringify(result, null, 2) + '\n');
}

/** predictions.csv in the current directory, which Shepherd makes the step's own workspace. */
export function writePredictions(dir, rows, classes) {
  const lines = ['row,actual,predicted,correct'];
  for (const { row, actual, predicted } of rows) {
    lines.push(`${row},${classes[actual]},${classes[predicted]},${actual === predicted}`);
  }
  const path = join(dir, 'predictions.csv');
  writeAtomic(path, lines.join('\n') + '\n');
  return path;
}
