// The example classifiers run as real subprocesses, the way a Shepherd step runs them: cwd is an
// empty workspace, the result goes to $SHEPHERD_RESULT_FILE, stdout is free-form progress.
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { experimentBatchSchema } from '../src/shared/experiments/schemas.js';
import { describeIssues } from '../src/shared/schemas.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const examples = path.join(root, 'examples/experiments');
const iris = path.join(examples, 'data/iris.csv');
const programs = ['knn', 'decision-tree', 'logistic-regression'] as const;

const workspaces: string[] = [];
afterEach(() => {
  for (const dir of workspaces.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function workspace(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'shepherd-clf-'));
  workspaces.push(dir);
  return dir;
}

async function run(program: string, args: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}) {
  const cwd = opts.cwd ?? workspace();
  const resultFile = path.join(cwd, 'result.json');
  const proc = await execa(process.execPath, [path.join(examples, 'programs', `${program}.mjs`), ...args], {
    cwd,
    env: { SHEPHERD_RESULT_FILE: resultFile, ...opts.env },
    extendEnv: true,
    reject: false,
  });
  const result = existsSync(resultFile) ? JSON.parse(readFileSync(resultFile, 'utf8')) : undefined;
  const predictionsFile = path.join(cwd, 'predictions.csv');
  const predictions = existsSync(predictionsFile) ? readFileSync(predictionsFile, 'utf8') : undefined;
  return { exitCode: proc.exitCode, stdout: String(proc.stdout), stderr: String(proc.stderr), result, predictions };
}

describe('example classifiers', () => {
  it('iris.csv is the 150-row Fisher data set, 50 rows per species', () => {
    const lines = readFileSync(iris, 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe('sepal_length,sepal_width,petal_length,petal_width,species');
    expect(lines).toHaveLength(151);
    const counts: Record<string, number> = {};
    for (const line of lines.slice(1)) {
      const species = line.split(',')[4]!;
      counts[species] = (counts[species] ?? 0) + 1;
    }
    expect(counts).toEqual({ setosa: 50, versicolor: 50, virginica: 50 });
  });

  it.each(programs)('%s trains, writes a valid result file and one-header predictions', async (program) => {
    const r = await run(program, ['--dataset', iris, '--seed', '42', '--train-ratio', '0.8']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);

    // stdout is progress noise, not a JSON document: the result must come from the file.
    expect(r.stdout).toContain(`[${program}] test accuracy`);
    expect(() => JSON.parse(r.stdout)).toThrow();

    const res = r.result;
    expect(res.model).toBe(program);
    expect(res.accuracy).toBeGreaterThan(0.8);
    expect(res.accuracy).toBeLessThanOrEqual(1);
    for (const key of ['precision', 'recall', 'f1']) {
      expect(res[key]).toBeGreaterThan(0.8);
      expect(res[key]).toBeLessThanOrEqual(1);
    }
    expect(res.trainSize).toBe(120);
    expect(res.testSize).toBe(30);
    expect(res.params).toMatchObject({ seed: 42, trainRatio: 0.8 });
    expect(res.confusion.labels).toEqual(['setosa', 'versicolor', 'virginica']);
    const matrix: number[][] = res.confusion.matrix;
    expect(matrix.flat().reduce((a, b) => a + b, 0)).toBe(30);
    const diagonal = matrix.reduce((a, row, i) => a + row[i]!, 0);
    expect(diagonal / 30).toBeCloseTo(res.accuracy, 10);

    const lines = r.predictions!.trimEnd().split('\n');
    expect(lines.filter((l) => l === 'row,actual,predicted,correct')).toHaveLength(1);
    expect(lines[0]).toBe('row,actual,predicted,correct');
    expect(lines).toHaveLength(31);
    expect(lines.slice(1).filter((l) => l.endsWith(',true')).length).toBe(diagonal);
  });

  it('takes model flags and records them as params', async () => {
    const knn = await run('knn', ['--dataset', iris, '--k', '15', '--metric', 'manhattan']);
    expect(knn.exitCode).toBe(0);
    expect(knn.result.params).toEqual({ trainRatio: 0.8, seed: 42, k: 15, metric: 'manhattan' });

    const tree = await run('decision-tree', ['--dataset', iris, '--max-depth=2', '--criterion', 'entropy']);
    expect(tree.exitCode).toBe(0);
    expect(tree.result.details.depth).toBeLessThanOrEqual(2);
    expect(tree.result.params).toMatchObject({ maxDepth: 2, criterion: 'entropy' });

    const lr = await run('logistic-regression', ['--dataset', iris, '--multi-class', 'ovr', '--epochs', '300']);
    expect(lr.exitCode).toBe(0);
    expect(lr.result.accuracy).toBeGreaterThan(0.8);
    expect(lr.result.params).toMatchObject({ multiClass: 'ovr', epochs: 300 });
  });

  it('reads a relative dataset path from its workspace, as the engine passes {dataset}', async () => {
    const cwd = workspace();
    mkdirSync(path.join(cwd, 'input'));
    copyFileSync(iris, path.join(cwd, 'input/iris.csv'));
    const r = await run('knn', ['--dataset', 'input/iris.csv'], { cwd });
    expect(r.exitCode).toBe(0);
    expect(r.result.dataset).toMatchObject({ name: 'iris.csv', rows: 150 });
  });

  it('--sleep-ms stretches the run with progress lines and leaves the result unchanged', async () => {
    const plain = await run('decision-tree', ['--dataset', iris]);
    const slow = await run('decision-tree', ['--dataset', iris, '--sleep-ms', '200']);
    expect(slow.exitCode).toBe(0);
    expect(slow.stdout).toContain('simulated work: 200/200 ms');
    expect(slow.result).toEqual(plain.result);
  });

  it.each(programs)('%s is deterministic for a fixed seed', async (program) => {
    const a = await run(program, ['--dataset', iris, '--seed', '7']);
    const b = await run(program, ['--dataset', iris, '--seed', '7']);
    expect(a.exitCode).toBe(0);
    expect(b.result).toEqual(a.result);
    expect(b.predictions).toBe(a.predictions);

    // A different seed really changes the split, so the check above is not vacuous.
    const c = await run(program, ['--dataset', iris, '--seed', '8']);
    expect(c.predictions).not.toBe(a.predictions);
  });

  it.each([
    [['--dataset', iris, '--bogus', '1'], 'unknown flag --bogus'],
    [['--dataset', iris, '--k', 'five'], 'invalid value for --k: "five" is not an integer'],
    [['--dataset', iris, '--k', '2.5'], 'is not an integer'],
    [['--dataset', iris, '--k', '0'], 'below the minimum 1'],
    [['--dataset', iris, '--k', '121'], '--k 121 is larger than the train set (120 rows)'],
    [['--dataset', iris, '--k'], 'flag --k needs a value'],
    [['--dataset', iris, '--k', '3', '--k', '4'], 'flag --k given more than once'],
    [['--dataset', iris, '--metric', 'cosine'], 'expected one of euclidean, manhattan'],
    [['--dataset', iris, '--train-ratio', '1.5'], 'above the maximum 1'],
    [['--dataset', iris, 'stray'], 'unexpected argument "stray"'],
    [['--k', '3'], 'missing required flag --dataset'],
    [['--dataset', '/nonexistent/iris.csv'], 'cannot read dataset /nonexistent/iris.csv'],
  ])('knn %j exits 2 naming the problem', async (args, message) => {
    const r = await run('knn', args);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.result).toBeUndefined();
    expect(r.predictions).toBeUndefined();
  });

  it('exits 2 when SHEPHERD_RESULT_FILE is not set', async () => {
    const r = await run('logistic-regression', ['--dataset', iris], { env: { SHEPHERD_RESULT_FILE: undefined } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('SHEPHERD_RESULT_FILE is not set');
  });

  it.each(programs)('%s refuses a split that leaves a set empty (the seed\'s "train set will be empty")', async (program) => {
    const all = await run(program, ['--dataset', iris, '--train-ratio', '1.0']);
    expect(all.exitCode).toBe(2);
    expect(all.stderr).toContain('test set would be empty');
    expect(all.result).toBeUndefined();

    const none = await run(program, ['--dataset', iris, '--train-ratio', '0']);
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('train set would be empty');
    expect(none.result).toBeUndefined();
  });

  it('rejects a dataset with a repeated header line (appended output) instead of misreading it', async () => {
    const cwd = workspace();
    const text = readFileSync(iris, 'utf8').split('\n');
    const bad = [...text.slice(0, 60), text[0], ...text.slice(60)].join('\n');
    writeFileSync(path.join(cwd, 'appended.csv'), bad);
    const r = await run('decision-tree', ['--dataset', 'appended.csv'], { cwd });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('line 61 repeats the header');
  });
});

describe('example batch inputs', () => {
  const load = (file: string) => JSON.parse(readFileSync(path.join(examples, file), 'utf8'));

  it.each(['iris-batch.json', 'slow-batch.json'])('%s is a valid experimentBatch input', (file) => {
    const parsed = experimentBatchSchema.safeParse(load(file));
    expect(parsed.success ? 'ok' : describeIssues(parsed.error)).toBe('ok');
    for (const e of parsed.data!.experiments) {
      expect(existsSync(path.join(root, e.dataset!))).toBe(true);
      const program = e.args[0]!.replace('{project}', root);
      expect(existsSync(program)).toBe(true);
    }
  });

  it('broken-batch.json is rejected, naming each bad field', () => {
    const parsed = experimentBatchSchema.safeParse(load('broken-batch.json'));
    expect(parsed.success).toBe(false);
    const message = describeIssues(parsed.error!);
    expect(message).toContain('input.maxConcurrency');
    expect(message).toContain('input.experiments.0.name');
    expect(message).toContain('input.experiments.0.params.trainRatio');
    expect(message).toContain('input.experiments.1.params.trainRatio');
  });
});
