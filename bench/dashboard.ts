import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { serveDashboard } from '../src/dashboard/server.js';
import type { BenchContext } from './context.js';
import { percentile, ratio, summarize } from './stats.js';

const n2 = (v: number) => v.toFixed(2);

// Dashboard case: every page's data endpoint over HTTP against real volumes: 400,000 simulation
// replicates (one running job of 40 parameter sets × 10,000, so its progress, rate and ETA count
// them all), 200,000 audit-log rows over a week (3 definitions × 7 steps × 3 models), 2,000
// experiment results, 50 training jobs with 500 loss samples each. Target: under 300 ms each;
// reported absolute and as a ratio to a trivial endpoint (GET /api/config) and a trivial query
// (SELECT 1) measured in the same run.

const REPLICATES = Number(process.env.BENCH_DASHBOARD_REPLICATES ?? 400_000);
const AUDIT_ROWS = Number(process.env.BENCH_DASHBOARD_AUDIT ?? 200_000);
const RUNS = Number(process.env.BENCH_DASHBOARD_RUNS ?? 20);
const PARAMS = 40;
const TARGET_MS = 300;

async function seed(pool: pg.Pool, tag: string) {
  const job = `bench-sim-${tag}`;
  const perParam = Math.ceil(REPLICATES / PARAMS);
  const parameters = Array.from({ length: PARAMS }, (_, i) => ({ values: { beta: i / PARAMS } }));
  await pool.query(
    `INSERT INTO simulation_jobs (job_id, fingerprint, input, status, workflow_id)
     VALUES ($1, 'bench', $2::jsonb, 'running', $3)`,
    [job, JSON.stringify({ jobId: job, parameters, replicates: perParam + 1 }), `simulation-${job}`],
  );
  // Finished over the last hour, 1 in 50 failed; the newest within the last minute (the rate).
  await pool.query(
    `INSERT INTO simulation_replicates (job_id, parameter_key, replicate, seed, status, result, error, duration_ms, finished_at)
     SELECT $1, 'p-' || lpad((g % $3)::text, 4, '0'), g / $3, g, CASE WHEN g % 50 = 0 THEN 'failed' ELSE 'succeeded' END,
            CASE WHEN g % 50 = 0 THEN NULL ELSE jsonb_build_object('value', (g % 97)::float8 / 97) END,
            CASE WHEN g % 50 = 0 THEN 'replicate diverged' END, 20 + g % 30,
            now() - make_interval(secs => ($2 - g)::float8 * 3600 / $2)
       FROM generate_series(0, $2 - 1) AS g`,
    [job, REPLICATES, PARAMS],
  );
  await pool.query(
    `INSERT INTO simulation_aggregates (job_id, parameter_key, parameters, replicates, succeeded, failed, aggregates)
     SELECT $1, 'p-' || lpad(i::text, 4, '0'), jsonb_build_object('beta', i::float8 / $2), $3, $3 - $3 / 50, $3 / 50,
            jsonb_build_object('value', jsonb_build_object('count', $3, 'mean', 0.5 + i * 0.01, 'std', 0.1))
       FROM generate_series(0, $2 - 1) AS i`,
    [job, PARAMS, perParam],
  );

  const definitions = ['bench-def-a', 'bench-def-b', 'bench-def-c'];
  await pool.query(
    `INSERT INTO conversation_attempts (workflow_id, run_id, batch_id, definition, item_key, step, attempt, actor_kind, actor,
        input, output, status, error, error_type, latency_ms, started_at, finished_at)
     SELECT 'conversation-bench-' || (g / 21), 'run-' || (g / 21), 'bench', ($2::text[])[1 + (g / 21) % 3], 'item-' || (g / 21),
            's' || (g % 7), 1 + (g / 7) % 3, 'llm', 'model-' || (g % 3), '{"prompt":"p"}', '{"text":"ok"}',
            CASE WHEN g % 23 = 0 THEN 'timed_out' WHEN g % 11 = 0 THEN 'failed' ELSE 'completed' END,
            CASE WHEN g % 11 = 0 THEN 'model said no' END, CASE WHEN g % 23 = 0 THEN 'HEARTBEAT' WHEN g % 11 = 0 THEN 'InvalidModelOutput' END,
            100 + (g * 37) % 5000, t - interval '1 second', t
       FROM (SELECT g, now() - make_interval(secs => ($1 - g)::float8 * 7 * 86400 / $1) AS t FROM generate_series(0, $1 - 1) g) s`,
    [AUDIT_ROWS, definitions],
  );

  const batch = `bench-batch-${tag}-199`;
  await pool.query(
    `INSERT INTO batches (batch_id, status, workflow_id, started_at, finished_at)
     SELECT 'bench-batch-' || $1 || '-' || b, 'completed', 'experiment-batch-bench-' || b, now() - make_interval(mins => 200 - b), now() - make_interval(mins => 199 - b)
       FROM generate_series(0, 199) b`,
    [tag],
  );
  await pool.query(
    `INSERT INTO experiment_results (batch_id, experiment, status, metrics, params, finished_at)
     SELECT 'bench-batch-' || $1 || '-' || b, 'exp-' || e, 'succeeded',
            jsonb_build_object('accuracy', 0.8 + ((b * 7 + e) % 20)::float8 / 100, 'f1', 0.7 + e::float8 / 100), jsonb_build_object('e', e),
            now() - make_interval(mins => 199 - b)
       FROM generate_series(0, 199) b, generate_series(0, 9) e`,
    [tag],
  );

  const instance = `bench-train-${tag}-0`;
  await pool.query(
    `INSERT INTO training_jobs (instance, queue, job_id, status, config, metrics, started_at, finished_at)
     SELECT 'bench-train-' || $1 || '-' || j, 'bench-queue', 'job-' || j, 'completed', '{"steps": 50000}', '{"valLoss": 0.2}',
            now() - interval '2 hours', now() - interval '1 hour'
       FROM generate_series(0, 49) j`,
    [tag],
  );
  await pool.query(
    `INSERT INTO training_samples (instance, step, attempt, train_loss, val_loss)
     SELECT 'bench-train-' || $1 || '-' || j, s * 100, 1, 1.0 / (s + 1), CASE WHEN s % 5 = 0 THEN 1.2 / (s + 1) END
       FROM generate_series(0, 49) j, generate_series(0, 499) s`,
    [tag],
  );
  await pool.query('ANALYZE');
  return { job, batch, instance, definition: definitions[0]!, item: 'item-42' };
}

export async function benchDashboard(ctx: BenchContext): Promise<void> {
  const name = 'dashboard data endpoints';
  const tag = randomUUID().slice(0, 6);
  const t0 = performance.now();
  const s = await seed(ctx.pool, tag);
  ctx.report(name, 'seeded (replicates / audit rows)', `${REPLICATES} / ${AUDIT_ROWS} in ${n2((performance.now() - t0) / 1000)} s`);
  const server = await serveDashboard({
    pool: ctx.pool,
    client: ctx.client,
    namespace: 'default',
    projectDir: process.cwd(),
    controls: { training: false },
  });
  const time = async (path: string) => {
    const samples: number[] = [];
    for (let i = 0; i < 3 + RUNS; i++) {
      const start = performance.now();
      const res = await fetch(`${server.url}${path}`);
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
      if (i >= 3) samples.push(performance.now() - start);
    }
    return {
      ...summarize(samples),
      p95: percentile(
        [...samples].sort((a, b) => a - b),
        95,
      ),
    };
  };
  try {
    const query: number[] = [];
    for (let i = 0; i < 3 + RUNS; i++) {
      const start = performance.now();
      await ctx.pool.query('SELECT 1');
      if (i >= 3) query.push(performance.now() - start);
    }
    const trivialQuery = summarize(query);
    const trivial = await time('/api/config');
    ctx.report(name, 'baseline: SELECT 1 p50', trivialQuery.p50, 'ms');
    ctx.report(name, 'baseline: GET /api/config p50', trivial.p50, 'ms');
    const e = encodeURIComponent;
    const pages: [string, string][] = [
      ['overview', '/api/overview'],
      ['experiments', '/api/experiments'],
      ['experiment batch', `/api/experiments/${e(s.batch)}`],
      ['experiment CSV', `/api/experiments/${e(s.batch)}/export.csv`],
      ['simulation jobs', '/api/simulation'],
      ['simulation job (400k)', `/api/simulation/${e(s.job)}`],
      ['training', '/api/training'],
      ['training job curve', `/api/training/${e(s.instance)}`],
      ['conversations', '/api/conversations'],
      ['conversation definition', `/api/conversations/${e(s.definition)}`],
      ['conversation item audit', `/api/conversations/${e(s.definition)}/items/${e(s.item)}`],
      ['analysis', '/api/analysis'],
    ];
    let worst = 0;
    for (const [label, path] of pages) {
      const r = await time(path);
      worst = Math.max(worst, r.p50);
      ctx.report(
        name,
        `${label} p50 / p95`,
        `${n2(r.p50)} / ${n2(r.p95)} ms (${n2(ratio(r.p50, trivial.p50))}x trivial endpoint)${r.p95 > TARGET_MS ? '  OVER TARGET' : ''}`,
      );
    }
    ctx.report(name, `slowest page p50 vs ${TARGET_MS} ms target`, `${n2(worst)} ms (${worst < TARGET_MS ? 'within' : 'OVER'})`);
  } finally {
    await server.close();
  }
}
