-- Simulation sweeps (simulationJob / parameterSweep): one row per job, per replicate, per
-- parameter aggregate. Every write has a natural unique key, so a retried or late activity can
-- never add a second row. Never edit once applied: add a new 0NN_*.sql instead.

CREATE TABLE simulation_jobs (
  job_id        text PRIMARY KEY,
  -- sha256 of the effective input (and environment key): a job ID reused for different work is
  -- refused instead of silently mixing results.
  fingerprint   text NOT NULL,
  input         jsonb NOT NULL,
  status        text NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'completed', 'completed_with_failures', 'failed', 'cancelled', 'timed_out')),
  environment   jsonb,
  summary       jsonb,
  workflow_id   text,
  run_id        text,
  started_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX simulation_jobs_started_at_idx ON simulation_jobs (started_at DESC);

CREATE TABLE simulation_replicates (
  job_id         text NOT NULL,
  parameter_key  text NOT NULL,
  replicate      integer NOT NULL CHECK (replicate >= 0),
  seed           bigint NOT NULL,
  -- A failure can later be replaced by a success (a resumed job retries it); a success is final.
  status         text NOT NULL CHECK (status IN ('succeeded', 'failed')),
  result         jsonb,
  error          text,
  attempts       integer NOT NULL DEFAULT 1 CHECK (attempts >= 1),
  duration_ms    integer CHECK (duration_ms IS NULL OR duration_ms >= 0),
  peak_rss_bytes bigint,
  finished_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, parameter_key, replicate)
);

-- "What failed in this job?" without scanning the successes.
CREATE INDEX simulation_replicates_failed_idx ON simulation_replicates (job_id, parameter_key) WHERE status = 'failed';

CREATE TABLE simulation_aggregates (
  job_id         text NOT NULL,
  parameter_key  text NOT NULL,
  parameters     jsonb NOT NULL,
  replicates     integer NOT NULL,
  succeeded      integer NOT NULL,
  failed         integer NOT NULL,
  aggregates     jsonb NOT NULL,
  environment_key text,
  workflow_id    text,
  computed_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, parameter_key)
);

-- "Every aggregate for beta = 0.3 across jobs": parameters @> '{"beta":0.3}'.
CREATE INDEX simulation_aggregates_parameters_idx ON simulation_aggregates USING gin (parameters jsonb_path_ops);
