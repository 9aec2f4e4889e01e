-- Counters the dashboard reads instead of counting big tables on every page view: with 400,000
-- simulation replicates a count per job or per hour is a scan that takes longer than the page's
-- whole budget. Kept by statement-level triggers (one upsert per INSERT statement, however many
-- rows it writes), so the writers are unchanged. Never edit once applied: add a new migration.

-- Replicates stored per (job, parameter set) by outcome; a failure later replaced by a success
-- (a resumed job retries it) moves from failed to succeeded.
CREATE TABLE simulation_progress (
  job_id         text NOT NULL,
  parameter_key  text NOT NULL,
  succeeded      integer NOT NULL DEFAULT 0,
  failed         integer NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, parameter_key)
);

-- Units of work finished per hour: replicates (key '') and conversation step attempts (key =
-- definition). `shard` spreads concurrent writers over several rows so they do not queue on one
-- row lock; readers sum the shards.
CREATE TABLE dashboard_hourly (
  hour      timestamptz NOT NULL,
  pipeline  text NOT NULL,
  key       text NOT NULL DEFAULT '',
  shard     smallint NOT NULL,
  count     bigint NOT NULL,
  PRIMARY KEY (hour, pipeline, key, shard)
);

CREATE FUNCTION dashboard_hour(t timestamptz) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS
$$ SELECT date_bin('1 hour', t, timestamptz '2000-01-01 00:00:00+00') $$;

CREATE FUNCTION simulation_replicates_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO simulation_progress AS p (job_id, parameter_key, succeeded, failed)
      SELECT job_id, parameter_key, count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'failed')
        FROM new_rows GROUP BY 1, 2
      ON CONFLICT (job_id, parameter_key) DO UPDATE
        SET succeeded = p.succeeded + EXCLUDED.succeeded, failed = p.failed + EXCLUDED.failed;
  ELSE
    INSERT INTO simulation_progress AS p (job_id, parameter_key, succeeded, failed)
      SELECT job_id, parameter_key, sum(s)::int, sum(f)::int FROM (
        SELECT job_id, parameter_key, (status = 'succeeded')::int AS s, (status = 'failed')::int AS f FROM new_rows
        UNION ALL
        SELECT job_id, parameter_key, -(status = 'succeeded')::int, -(status = 'failed')::int FROM old_rows) d
      GROUP BY 1, 2
      ON CONFLICT (job_id, parameter_key) DO UPDATE
        SET succeeded = p.succeeded + EXCLUDED.succeeded, failed = p.failed + EXCLUDED.failed;
  END IF;
  INSERT INTO dashboard_hourly AS h (hour, pipeline, key, shard, count)
    SELECT dashboard_hour(finished_at), 'simulation replicates', '', pg_backend_pid() % 8, count(*) FROM new_rows GROUP BY 1
    ON CONFLICT (hour, pipeline, key, shard) DO UPDATE SET count = h.count + EXCLUDED.count;
  RETURN NULL;
END;
$$;

CREATE TRIGGER simulation_replicates_counted_insert AFTER INSERT ON simulation_replicates
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION simulation_replicates_counted();
CREATE TRIGGER simulation_replicates_counted_update AFTER UPDATE ON simulation_replicates
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION simulation_replicates_counted();

CREATE FUNCTION conversation_attempts_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO dashboard_hourly AS h (hour, pipeline, key, shard, count)
    SELECT dashboard_hour(finished_at), 'conversation steps', definition, pg_backend_pid() % 8, count(*) FROM new_rows GROUP BY 1, 3
    ON CONFLICT (hour, pipeline, key, shard) DO UPDATE SET count = h.count + EXCLUDED.count;
  RETURN NULL;
END;
$$;

CREATE TRIGGER conversation_attempts_counted AFTER INSERT ON conversation_attempts
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION conversation_attempts_counted();

-- Rows written before this migration.
INSERT INTO simulation_progress (job_id, parameter_key, succeeded, failed)
  SELECT job_id, parameter_key, count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'failed')
    FROM simulation_replicates GROUP BY 1, 2;
INSERT INTO dashboard_hourly (hour, pipeline, key, shard, count)
  SELECT dashboard_hour(finished_at), 'simulation replicates', '', 0, count(*) FROM simulation_replicates GROUP BY 1;
INSERT INTO dashboard_hourly (hour, pipeline, key, shard, count)
  SELECT dashboard_hour(finished_at), 'conversation steps', definition, 0, count(*) FROM conversation_attempts GROUP BY 1, 3;
