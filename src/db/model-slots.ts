import type pg from 'pg';
import type { ModelRegistry } from '../config/models.js';

// SQL of the per-model slot leases (`model_slots`) and the models workers announce
// (`model_registry`). The slot supplier in src/workers/model-limits.ts explains the design.

/** One leased row: which model's slot, held under which token. */
export interface SlotLease {
  model: string;
  slot: number;
  token: string;
}

export async function ensureSlots(pool: pg.Pool, model: string, limit: number): Promise<void> {
  await pool.query('INSERT INTO model_slots (model, slot) SELECT $1, g FROM generate_series(0, $2::int - 1) AS g ON CONFLICT DO NOTHING', [
    model,
    limit,
  ]);
}

/** One atomic statement: take the lowest free or expired slot below the limit, or none. */
export async function acquireSlot(pool: pg.Pool, model: string, limit: number, token: string, ttlMs: number): Promise<number | null> {
  const r = await pool.query<{ slot: number }>(
    `WITH candidate AS (
       SELECT model, slot FROM model_slots
       WHERE model = $1 AND slot < $2 AND (holder IS NULL OR expires_at < now())
       ORDER BY slot
       LIMIT 1
       FOR UPDATE SKIP LOCKED
     )
     UPDATE model_slots s
     SET holder = $3, expires_at = now() + make_interval(secs => $4::double precision / 1000), acquired_at = now()
     FROM candidate c
     WHERE s.model = c.model AND s.slot = c.slot
     RETURNING s.slot`,
    [model, limit, token, ttlMs],
  );
  return r.rows[0]?.slot ?? null;
}

export async function renewSlot(pool: pg.Pool, p: SlotLease, ttlMs: number): Promise<boolean> {
  const r = await pool.query(
    'UPDATE model_slots SET expires_at = now() + make_interval(secs => $4::double precision / 1000) WHERE model = $1 AND slot = $2 AND holder = $3',
    [p.model, p.slot, p.token, ttlMs],
  );
  return (r.rowCount ?? 0) > 0;
}

export async function releaseSlotRow(pool: pg.Pool, p: SlotLease): Promise<void> {
  await pool.query('UPDATE model_slots SET holder = NULL, expires_at = NULL WHERE model = $1 AND slot = $2 AND holder = $3', [
    p.model,
    p.slot,
    p.token,
  ]);
}

/** Slots currently leased (not expired) for a model: for tests, the CLI and dashboards. */
export async function leasedSlots(pool: pg.Pool, model: string): Promise<number> {
  const r = await pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM model_slots WHERE model = $1 AND holder IS NOT NULL AND expires_at > now()',
    [model],
  );
  return Number(r.rows[0]!.n);
}

/** Records which models this worker serves, so workflows can reject unknown models up front. */
export async function announceModels(pool: pg.Pool, registry: ModelRegistry, identity: string): Promise<void> {
  for (const [model, cfg] of Object.entries(registry.models)) {
    await pool.query(
      `INSERT INTO model_registry (model, provider, max_concurrency, announced_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT (model) DO UPDATE SET provider = EXCLUDED.provider, max_concurrency = EXCLUDED.max_concurrency,
         announced_by = EXCLUDED.announced_by, announced_at = now()`,
      [model, cfg.provider, cfg.maxConcurrency, identity],
    );
  }
}

export async function knownModels(pool: pg.Pool): Promise<string[]> {
  const r = await pool.query<{ model: string }>('SELECT model FROM model_registry ORDER BY model');
  return r.rows.map((x) => x.model);
}
