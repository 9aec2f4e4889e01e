-- Code analysis pipeline (seed 003): one row per analysed target and the normalised findings.
-- Never edit once applied: add a new migration instead.

-- One row per (pipeline, model, app): the unique key is the database half of "a target is analysed
-- once per pipeline" (the workflow ID analysis-<pipeline>-<model>-<app> is the Temporal half).
CREATE TABLE analysis_targets (
  pipeline_id  text NOT NULL,
  model        text NOT NULL,
  app          text NOT NULL,
  workflow_id  text NOT NULL,
  -- The analysisPipeline run that registered the row: only it marks the row skipped.
  pipeline_run_id text NOT NULL,
  -- The appAnalysis run that claimed the row: a different run can never claim it again.
  run_id       text,
  source_dir   text NOT NULL,
  status       text NOT NULL DEFAULT 'pending'
               CHECK (status IN ('pending', 'running', 'completed', 'partial', 'failed', 'skipped', 'cancelled')),
  reason       text,
  -- Per-analyzer outcomes (AnalyzerOutcome[]), written when the target's workflow finishes.
  analyzers    jsonb NOT NULL DEFAULT '[]'::jsonb,
  findings     integer NOT NULL DEFAULT 0 CHECK (findings >= 0),
  started_at   timestamptz,
  finished_at  timestamptz,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT analysis_targets_pipeline_model_app_key UNIQUE (pipeline_id, model, app)
);
CREATE INDEX analysis_targets_status_idx ON analysis_targets (pipeline_id, status);

-- One row per (target, analyzer): the attempt whose findings are current. storeFindings (ANALYZERS)
-- replaces a target's findings only from a newer attempt, so a stale attempt never wins.
CREATE TABLE analysis_analyzer_runs (
  pipeline_id  text NOT NULL,
  model        text NOT NULL,
  app          text NOT NULL,
  analyzer     text NOT NULL,
  run_id       text NOT NULL,          -- appAnalysis workflow run id
  attempt      integer NOT NULL,       -- activity attempt that wrote the current rows
  scheduled_ms bigint NOT NULL,        -- attempt's scheduled time (orders attempts of different runs)
  status       text NOT NULL CHECK (status IN ('completed','failed','skipped')),
  reason       text,
  findings     integer NOT NULL DEFAULT 0,
  by_severity  jsonb NOT NULL DEFAULT '{}'::jsonb,
  metrics      jsonb,
  report_ref   text,
  duration_ms  integer NOT NULL DEFAULT 0,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pipeline_id, model, app, analyzer)
);

-- Normalised findings (rule, severity, location, message). The unique key makes a retried store
-- idempotent. No foreign key to analysis_targets: analyzers can be run (and tested) on their own.
CREATE TABLE analysis_findings (
  id          bigserial PRIMARY KEY,
  pipeline_id text NOT NULL,
  model       text NOT NULL,
  app         text NOT NULL,
  analyzer    text NOT NULL,
  rule        text NOT NULL,
  severity    text NOT NULL CHECK (severity IN ('critical','high','medium','low','info')),
  location    text NOT NULL,           -- "file:line:col" (static/ai) or "/path?param" (dynamic/perf)
  message     text NOT NULL,
  run_id      text NOT NULL,
  attempt     integer NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (pipeline_id, model, app, analyzer, rule, location)
);
CREATE INDEX analysis_findings_target ON analysis_findings (pipeline_id, model, app, analyzer);
CREATE INDEX analysis_findings_severity ON analysis_findings (pipeline_id, severity);
