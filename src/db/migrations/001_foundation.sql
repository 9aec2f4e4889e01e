-- Foundation: experiment batches and their per-experiment results.
-- Applied in one transaction by src/db/migrate.ts. Never edit once applied: add 0NN_*.sql instead.

CREATE TABLE batches (
  batch_id     text PRIMARY KEY,
  -- Which pipeline produced it (experimentBatch, parameterSweep, ...), for cross-pipeline dashboards.
  pipeline     text NOT NULL DEFAULT 'experimentBatch',
  -- The effective, validated input: what actually ran, not what the docs say ran.
  input        jsonb NOT NULL DEFAULT '{}'::jsonb,
  status       text NOT NULL DEFAULT 'running'
               CHECK (status IN ('running', 'completed', 'completed_with_failures', 'failed', 'cancelled')),
  -- Counts and headline numbers computed by the workflow when the batch finishes.
  summary      jsonb,
  workflow_id  text,
  run_id       text,
  started_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX batches_started_at_idx ON batches (started_at DESC);
CREATE INDEX batches_status_idx ON batches (status) WHERE status <> 'completed';

CREATE TABLE experiment_results (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  batch_id     text NOT NULL,
  experiment   text NOT NULL,
  -- The logical run's key, one row per key whatever the retries: '<batch_id>/<experiment>'.
  run_key      text GENERATED ALWAYS AS (batch_id || '/' || experiment) STORED,
  status       text NOT NULL CHECK (status IN ('succeeded', 'failed', 'cancelled')),
  metrics      jsonb NOT NULL DEFAULT '{}'::jsonb,
  params       jsonb NOT NULL DEFAULT '{}'::jsonb,
  dataset      text,
  command      jsonb,
  -- sha256 of the canonical (params, dataset, command): "has this exact configuration run before,
  -- and what did it score?" across batches.
  config_hash  text,
  -- Attempt number of the experiment within its logical run; a write from an older attempt never
  -- overwrites a newer one (see the upsert in src/activities/results.ts).
  attempt      integer NOT NULL DEFAULT 1 CHECK (attempt >= 1),
  workflow_id  text,
  run_id       text,
  error        text,
  -- Structured failure: exit code, signal, stderr tail, peak memory, possible OOM.
  failure      jsonb,
  exit_code    integer,
  -- References to stored outputs (paths), never the outputs themselves.
  outputs      jsonb,
  duration_ms  integer CHECK (duration_ms IS NULL OR duration_ms >= 0),
  started_at   timestamptz,
  finished_at  timestamptz NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT experiment_results_batch_experiment_key UNIQUE (batch_id, experiment),
  CONSTRAINT experiment_results_run_key_key UNIQUE (run_key),
  CONSTRAINT experiment_results_finished_after_start CHECK (started_at IS NULL OR finished_at >= started_at)
);

-- Not a foreign key to batches: a result recorded before its batch row (retries, replays, direct
-- experimentRun starts) must still be kept, never rejected.

-- "How has experiment X done over time?" and "latest result per experiment".
CREATE INDEX experiment_results_experiment_idx ON experiment_results (experiment, finished_at DESC);
-- "Same configuration across batches."
CREATE INDEX experiment_results_config_hash_idx ON experiment_results (config_hash) WHERE config_hash IS NOT NULL;
-- "What failed recently?"
CREATE INDEX experiment_results_failed_idx ON experiment_results (finished_at DESC) WHERE status <> 'succeeded';
-- "Every run with these parameters": params @> '{"model":"rf","max_depth":8}'.
CREATE INDEX experiment_results_params_idx ON experiment_results USING gin (params jsonb_path_ops);
CREATE INDEX experiment_results_workflow_idx ON experiment_results (workflow_id) WHERE workflow_id IS NOT NULL;
