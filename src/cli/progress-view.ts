import type { ExperimentOutcome } from '../shared/experiments/schemas.js';

const pct = (v: unknown) => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : '-');

function stateText(o: ExperimentOutcome, now: number): string {
  switch (o.status) {
    case 'running':
      return `running ${Math.max(0, Math.round((now - (o.startedAt ?? now)) / 1000))}s`;
    case 'succeeded':
      return `done, accuracy ${pct(o.metrics?.accuracy)}`;
    case 'failed':
      return `failed: ${(o.error ?? '').split('\n')[0].slice(0, 100)}`;
    default:
      return o.status;
  }
}

/** One line per experiment: queued / running with elapsed time / done with accuracy / failed with reason. */
export function renderProgress(outcomes: ExperimentOutcome[], now = Date.now()): string[] {
  const width = Math.max(10, ...outcomes.map((o) => o.name.length));
  return outcomes.map((o) => `  ${o.name.padEnd(width)}  ${stateText(o, now)}`);
}

/** The final result table: one header, one row per experiment. */
export function renderResultTable(outcomes: ExperimentOutcome[]): string {
  const header = ['experiment', 'status', 'accuracy', 'precision', 'recall', 'f1', 'attempts', 'seconds'];
  const rows = outcomes.map((o) => [
    o.name,
    o.status,
    pct(o.metrics?.accuracy),
    pct(o.metrics?.precision),
    pct(o.metrics?.recall),
    pct(o.metrics?.f1),
    o.attempts === undefined ? '-' : String(o.attempts),
    o.durationMs === undefined ? '-' : (o.durationMs / 1000).toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  const failures = outcomes.filter((o) => o.status === 'failed').map((o) => `  ${o.name}: ${o.error}`);
  return [
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    ...(failures.length ? ['', 'failures:', ...failures] : []),
  ].join('\n');
}

/** Polls a progress source and redraws in place on a TTY, or prints changed lines otherwise. */
export async function watchProgress(
  poll: () => Promise<ExperimentOutcome[]>,
  done: Promise<unknown>,
  out: NodeJS.WriteStream = process.stdout,
  intervalMs = 500,
): Promise<void> {
  let finished = false;
  done.then(
    () => (finished = true),
    () => (finished = true),
  );
  let drawn = 0;
  let last = new Map<string, string>();
  for (;;) {
    const outcomes = await poll().catch(() => undefined);
    if (outcomes) {
      const lines = renderProgress(outcomes);
      if (out.isTTY) {
        if (drawn) out.write(`\x1b[${drawn}A`);
        for (const l of lines) out.write(`\x1b[2K${l}\n`);
        drawn = lines.length;
      } else {
        outcomes.forEach((o, i) => {
          if (last.get(o.name) !== o.status) out.write(`${lines[i]}\n`);
        });
        last = new Map(outcomes.map((o) => [o.name, o.status]));
      }
    }
    if (finished) return;
    await Promise.race([new Promise((r) => setTimeout(r, intervalMs)), done.catch(() => undefined)]);
  }
}
