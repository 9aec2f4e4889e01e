import cliProgress from 'cli-progress';
import type { ProgressCounts } from './pipelines/adapter.js';

// Live progress for `run` and `watch`: on a terminal a cli-progress bar (done/total, rate, ETA)
// with the latest detail line; elsewhere plain lines, one per change.

export interface WatchSource<P> {
  poll(): Promise<P | undefined>;
  counts(p: P): ProgressCounts | undefined;
  lines(p: P, now: number): string[];
}

export async function follow<P>(
  src: WatchSource<P>,
  done: Promise<unknown>,
  out: NodeJS.WriteStream = process.stdout,
  intervalMs = 500,
): Promise<void> {
  let finished = false;
  done.then(
    () => (finished = true),
    () => (finished = true),
  );
  const tty = Boolean(out.isTTY);
  const bar = tty
    ? new cliProgress.SingleBar(
        {
          stream: out,
          format: ' {bar} {value}/{total} | {rate}/min | ETA {eta_formatted} | {detail}',
          hideCursor: true,
          clearOnComplete: false,
          etaBuffer: 20,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const started = Date.now();
  let last = '';
  let barStarted = false;
  for (;;) {
    const p = await src.poll().catch(() => undefined);
    if (p !== undefined) {
      const c = src.counts(p);
      const rate = c && c.done > 0 ? ((c.done / Math.max(1, Date.now() - started)) * 60_000).toFixed(1) : '0';
      if (bar && c) {
        const payload = { detail: (c.detail ?? `${c.failed} failed`).slice(0, 80), rate };
        if (!barStarted) {
          bar.start(Math.max(c.total, 1), c.done, payload);
          barStarted = true;
        } else {
          bar.setTotal(Math.max(c.total, 1));
          bar.update(c.done, payload);
        }
      } else if (!bar) {
        const text = [
          c ? `${c.done}/${c.total} done, ${c.failed} failed${c.detail ? `; ${c.detail}` : ''}` : '',
          ...src.lines(p, Date.now()),
        ]
          .filter(Boolean)
          .join('\n');
        // Elapsed seconds alone are no change worth a line.
        const key = text.replace(/\b\d+s\b/g, '');
        if (key !== last) out.write(`${text}\n`);
        last = key;
      }
    }
    if (finished) break;
    await Promise.race([new Promise((r) => setTimeout(r, intervalMs)), done.catch(() => undefined)]);
  }
  if (bar && barStarted) bar.stop();
}
