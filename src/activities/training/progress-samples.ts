import type pg from 'pg';
import type { Logger } from '../../config/logger.js';
import type { ProgressEvent } from './protocol.js';

// Loss curves for the dashboard, stored in training_samples. Bounded by construction: the job's
// step range is cut into MAX_POINTS buckets and only the first train loss and the first val
// loss of each bucket are kept, so a ten-million-step job stores as many rows as a short one.
// Writes are batched (at most one insert per flush interval) and best effort: a database hiccup
// costs points on a chart, never the training run.

export const MAX_POINTS = 500;
const FLUSH_INTERVAL_MS = 1000;

interface Sample {
  step: number;
  trainLoss: number | null;
  valLoss: number | null;
}

export class ProgressSamples {
  private readonly stride: number;
  private lastTrainBucket = -1;
  private lastValBucket = -1;
  private buffer = new Map<number, Sample>();
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly pool: pg.Pool,
    private readonly instance: string,
    private readonly attempt: number,
    totalSteps: number,
    private readonly logger: Logger,
  ) {
    this.stride = Math.max(1, Math.ceil(totalSteps / MAX_POINTS));
  }

  add(e: ProgressEvent): void {
    if (e.event === 'step') this.keep(e.step, 'trainLoss', e.loss, 'lastTrainBucket');
    else if (e.event === 'eval' && e.val_loss !== null) this.keep(e.step, 'valLoss', e.val_loss, 'lastValBucket');
  }

  private keep(step: number, field: 'trainLoss' | 'valLoss', value: number, last: 'lastTrainBucket' | 'lastValBucket'): void {
    const bucket = Math.floor(step / this.stride);
    if (bucket <= this[last]) return;
    this[last] = bucket;
    const s = this.buffer.get(step) ?? { step, trainLoss: null, valLoss: null };
    s[field] = value;
    this.buffer.set(step, s);
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_INTERVAL_MS);
  }

  /** Writes what is buffered; awaited at the end of an attempt. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const rows = [...this.buffer.values()];
    this.buffer = new Map();
    if (rows.length === 0) return this.writing;
    this.writing = this.writing.then(() => this.write(rows));
    return this.writing;
  }

  private async write(rows: Sample[]): Promise<void> {
    try {
      await this.pool.query(
        `INSERT INTO training_samples (instance, step, attempt, train_loss, val_loss)
         SELECT $1, s.step, $2, s.train_loss, s.val_loss
           FROM jsonb_to_recordset($3::jsonb) AS s(step int, train_loss float8, val_loss float8)
         ON CONFLICT (instance, step) DO UPDATE SET
           attempt = EXCLUDED.attempt,
           train_loss = COALESCE(EXCLUDED.train_loss, training_samples.train_loss),
           val_loss = COALESCE(EXCLUDED.val_loss, training_samples.val_loss),
           recorded_at = now()`,
        [this.instance, this.attempt, JSON.stringify(rows.map((r) => ({ step: r.step, train_loss: r.trainLoss, val_loss: r.valLoss })))],
      );
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, instance: this.instance }, 'could not store training progress samples');
    }
  }
}
