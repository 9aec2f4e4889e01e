import type pg from 'pg';

export interface LossSample {
  step: number;
  trainLoss: number | null;
  valLoss: number | null;
}

/** One enqueue's loss curve (primary key range scan; at most a few hundred rows by construction). */
export async function trainingSamples(pool: pg.Pool, instance: string, afterStep = -1): Promise<LossSample[]> {
  const { rows } = await pool.query(
    `SELECT step, train_loss, val_loss FROM training_samples WHERE instance = $1 AND step > $2 ORDER BY step`,
    [instance, afterStep],
  );
  return rows.map((r) => ({ step: r.step, trainLoss: r.train_loss, valLoss: r.val_loss }));
}
