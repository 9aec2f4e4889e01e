-- Training queues (seed 004): one row per enqueued job, keyed by the enqueue's unique instance id,
-- so a retried or late write updates that row and never adds a second one. Never edit once
-- applied: add a new migration instead.

CREATE TABLE IF NOT EXISTS training_jobs (
  -- Unique per enqueue (a uuid from the queue workflow).
  instance        text PRIMARY KEY,
  queue           text NOT NULL,
  job_id          text NOT NULL,
  -- running: a trainer attempt is (or was last) running; paused: interrupted at a checkpoint and
  -- back in the queue; the other four are final and never reopened.
  status          text NOT NULL CHECK (status IN ('running', 'paused', 'completed', 'failed', 'cancelled', 'removed')),
  -- The effective configuration (defaults filled in): what ran, not what the docs say ran.
  config          jsonb NOT NULL,
  -- Final metrics from the trainer's result file, plus step / losses / gap.
  metrics         jsonb,
  error           text,
  -- Why a job was paused (disk floor) or what went wrong with validation, etc.
  reason          text,
  warnings        jsonb NOT NULL DEFAULT '[]'::jsonb,
  last_checkpoint jsonb,
  best_checkpoint jsonb,
  attempt         integer CHECK (attempt IS NULL OR attempt >= 1),
  workflow_id     text,
  run_id          text,
  started_at      timestamptz,
  finished_at     timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT training_jobs_finished_after_start CHECK (started_at IS NULL OR finished_at IS NULL OR finished_at >= started_at)
);

-- "Every run of job X in queue Q", latest first.
CREATE INDEX IF NOT EXISTS training_jobs_queue_job_idx ON training_jobs (queue, job_id, created_at DESC);
-- "What failed recently?"
CREATE INDEX IF NOT EXISTS training_jobs_unsuccessful_idx ON training_jobs (finished_at DESC) WHERE status IN ('failed', 'cancelled');
