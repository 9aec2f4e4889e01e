-- Code analysis pipeline (seed 003): one row per analysed target and the normalised findings.
-- Never edit once applied: add a new migration instead.

-- One row per (pipeline, model, app): the unique key is the database half of "a target is analysed
-- once per pipeline" (the workflow ID analysis-<pipeline>-<model>-<app> is the Temporal half).
CREATE TABLE analysis_targets (
  pipeline_id  text NOT NULL,
  model        text NOT NULL,
  app          text NOT NULL,
  workflow_id  text NOT NULL,
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

-- Normalised findings from every analyzer. The unique key makes a retried store idempotent; the
-- run_id/attempt columns let the writer replace rows only from the winning (newer) attempt.
CREATE TABLE analysis_findings (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  pipeline_id  text NOT NULL,
  model        text NOT NULL,
  app          text NOT NULL,
  analyzer     text NOT NULL CHECK (analyzer IN ('static', 'dynamic', 'performance', 'ai-review')),
  rule         text NOT NULL,
  severity     text NOT NULL,
  location     text NOT NULL,
  message      text NOT NULL,
  run_id       text NOT NULL,
  attempt      integer NOT NULL CHECK (attempt >= 1),
  details      jsonb,
  recorded_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT analysis_findings_target_rule_location_key UNIQUE (pipeline_id, model, app, analyzer, rule, location)
);
CREATE INDEX analysis_findings_target_idx ON analysis_findings (pipeline_id, model, app, analyzer);
CREATE INDEX analysis_findings_severity_idx ON analysis_findings (pipeline_id, severity);
