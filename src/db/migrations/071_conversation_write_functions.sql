-- The conversation audit's two hot writes as functions (issue 14). A statement sent as text is
-- parsed and planned on every call; the statements inside a PL/pgSQL function are planned once per
-- session and reused. The embedded database is one session for every connection, so there every
-- write after the first skips planning: a claim carrying one row took 0.8-0.9 ms instead of
-- 1.0-1.1 ms in a tight loop on the embedded database (named prepared statements cannot be used
-- there: a second connection's Parse of the same name fails in the shared session).
-- Rows arrive as a jsonb array of objects keyed by column (times in epoch ms) and are written in
-- array order; one already recorded (same run, step, attempt) is skipped. `input` and `output`
-- hold JSON text, as the columns' values were sent before (null output: no output).

CREATE FUNCTION conversation_record_attempts(rows jsonb) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE written integer;
BEGIN
  INSERT INTO conversation_attempts (workflow_id, run_id, batch_id, definition, item_key, step, attempt, actor_kind,
                                     actor, input, output, status, error, error_type, latency_ms, started_at, finished_at)
    SELECT r.workflow_id, r.run_id, r.batch_id, r.definition, r.item_key, r.step, r.attempt, r.actor_kind,
           r.actor, r.input::jsonb, r.output::jsonb, r.status, r.error, r.error_type, r.latency_ms,
           to_timestamp(r.started_at / 1000.0), to_timestamp(r.finished_at / 1000.0)
      FROM ROWS FROM (jsonb_to_recordset(rows) AS (workflow_id text, run_id text, batch_id text, definition text,
             item_key text, step text, attempt integer, actor_kind text, actor text, input text, output text,
             status text, error text, error_type text, latency_ms integer, started_at double precision,
             finished_at double precision))
           WITH ORDINALITY AS r(workflow_id, run_id, batch_id, definition, item_key, step, attempt, actor_kind, actor,
             input, output, status, error, error_type, latency_ms, started_at, finished_at, ord)
     ORDER BY r.ord
  ON CONFLICT ON CONSTRAINT conversation_attempts_run_step_attempt_key DO NOTHING;
  GET DIAGNOSTICS written = ROW_COUNT;
  RETURN written;
END;
$$;

-- The earlier attempts' rows a model call carries, then the claim of its own attempt
-- (070_conversation_model_calls.sql), in one transaction: true when this call claimed it.
CREATE FUNCTION conversation_claim_model_call(p_run_id text, p_step text, p_attempt integer, carried jsonb)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE claimed integer;
BEGIN
  IF jsonb_array_length(carried) > 0 THEN
    PERFORM conversation_record_attempts(carried);
  END IF;
  INSERT INTO conversation_model_calls (run_id, step, attempt) VALUES (p_run_id, p_step, p_attempt) ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS claimed = ROW_COUNT;
  RETURN claimed > 0;
END;
$$;
