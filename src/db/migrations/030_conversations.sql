-- LLM conversation workflows (seed 002): the append-only audit log, decisions, latency metrics and
-- the per-model concurrency leases. Never edit once applied: add a new migration instead.

-- Every attempt of every step, one row each, written once by the conversationRun workflow after the
-- attempt's outcome is in its history. The model-calling activity never writes here, so a late
-- reply from a timed-out attempt has no path into this table (the seed's reaper race); the unique
-- key makes a retried write a no-op; the trigger below forbids UPDATE and DELETE.
CREATE TABLE conversation_attempts (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workflow_id  text NOT NULL,
  run_id       text NOT NULL,
  batch_id     text,
  definition   text NOT NULL,
  item_key     text NOT NULL,
  step         text NOT NULL,
  attempt      integer NOT NULL CHECK (attempt >= 1),
  actor_kind   text NOT NULL CHECK (actor_kind IN ('llm', 'script', 'db')),
  -- Model name, program, or db action.
  actor        text NOT NULL,
  -- The rendered prompt / script input / db fields, exactly as sent.
  input        jsonb NOT NULL,
  output       jsonb,
  status       text NOT NULL CHECK (status IN ('completed', 'failed', 'timed_out', 'cancelled')),
  error        text,
  -- Failure type: ModelStalled, InvalidModelOutput, HEARTBEAT (timeout), ...
  error_type   text,
  latency_ms   integer CHECK (latency_ms IS NULL OR latency_ms >= 0),
  started_at   timestamptz NOT NULL,
  finished_at  timestamptz NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT conversation_attempts_run_step_attempt_key UNIQUE (run_id, step, attempt),
  CONSTRAINT conversation_attempts_finished_after_start CHECK (finished_at >= started_at)
);

CREATE INDEX conversation_attempts_item_idx ON conversation_attempts (definition, item_key, finished_at DESC);
CREATE INDEX conversation_attempts_metrics_idx ON conversation_attempts (definition, step, actor, finished_at);
CREATE INDEX conversation_attempts_batch_idx ON conversation_attempts (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX conversation_attempts_failed_idx ON conversation_attempts (finished_at DESC) WHERE status <> 'completed';

CREATE FUNCTION conversation_attempts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'conversation_attempts is append-only: % is not allowed (record a new attempt instead)', TG_OP;
END;
$$;

CREATE TRIGGER conversation_attempts_append_only
  BEFORE UPDATE OR DELETE ON conversation_attempts
  FOR EACH ROW EXECUTE FUNCTION conversation_attempts_append_only();

-- A step's outcome in a run is derived from its rows, never stored: the highest attempt wins.
CREATE VIEW conversation_step_outcomes AS
SELECT DISTINCT ON (run_id, step)
       workflow_id, run_id, batch_id, definition, item_key, step, attempt AS attempts, actor_kind, actor,
       status, output, error, latency_ms, finished_at
FROM conversation_attempts
ORDER BY run_id, step, attempt DESC;

-- db actor save_decision: one row per (run, step), append-only like the audit log.
CREATE TABLE conversation_decisions (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  definition   text NOT NULL,
  item_key     text NOT NULL,
  workflow_id  text NOT NULL,
  run_id       text NOT NULL,
  step         text NOT NULL,
  decision     jsonb NOT NULL,
  decided_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT conversation_decisions_run_step_key UNIQUE (run_id, step)
);
CREATE INDEX conversation_decisions_item_idx ON conversation_decisions (definition, item_key, id DESC);

-- db actor apply_decision: the item's current assignment. The upsert only moves forward (a higher
-- decision id), so an older run's late apply can never replace a newer decision.
CREATE TABLE conversation_assignments (
  definition   text NOT NULL,
  item_key     text NOT NULL,
  decision_id  bigint NOT NULL REFERENCES conversation_decisions (id),
  decision     jsonb NOT NULL,
  applied_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (definition, item_key)
);

-- Daily latency metrics per step and actor, refreshed by the conversationMetrics schedule from
-- conversation_attempts (see src/activities/metrics.ts); one row per (day, definition, step, actor).
CREATE TABLE conversation_metrics (
  day          date NOT NULL,
  definition   text NOT NULL,
  step         text NOT NULL,
  actor        text NOT NULL,
  attempts     integer NOT NULL,
  completed    integer NOT NULL,
  failed       integer NOT NULL,
  timed_out    integer NOT NULL,
  failure_rate double precision NOT NULL,
  p50_ms       double precision,
  p95_ms       double precision,
  p99_ms       double precision,
  max_ms       integer,
  computed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (day, definition, step, actor)
);

-- Per-model concurrency across every worker process: a model with limit N has slots 0..N-1; a
-- worker holds a slot by writing its token with an expiry and renewing it while the slot is in use.
-- A worker that dies stops renewing and its slots come free after the lease TTL.
CREATE TABLE model_slots (
  model        text NOT NULL,
  slot         integer NOT NULL CHECK (slot >= 0),
  holder       text,
  expires_at   timestamptz,
  acquired_at  timestamptz,
  PRIMARY KEY (model, slot)
);

-- Which models the running workers serve, announced at worker start; conversation workflows check
-- their llm steps against it before any step runs, so a typo fails at once instead of waiting on a
-- task queue nobody polls.
CREATE TABLE model_registry (
  model            text PRIMARY KEY,
  provider         text NOT NULL,
  max_concurrency  integer NOT NULL CHECK (max_concurrency >= 1),
  announced_by     text NOT NULL,
  announced_at     timestamptz NOT NULL DEFAULT now()
);
