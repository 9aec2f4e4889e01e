-- Model calls a worker makes itself (a local activity inside the conversation's workflow task,
-- issue 14) leave no trace in Temporal until that task completes. A row here, written before the
-- model is called, is that trace: if the worker dies (or the task fails) first, the replayed run
-- finds its attempt already started, records it as lost, and makes the next attempt, so every
-- call the model received still has its audit row. Keyed like conversation_attempts.
CREATE TABLE conversation_model_calls (
  run_id     text NOT NULL,
  step       text NOT NULL,
  attempt    integer NOT NULL CHECK (attempt >= 1),
  started_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, step, attempt)
);
