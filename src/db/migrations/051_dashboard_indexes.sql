-- Indexes for the dashboard's pages (measured in `npm run bench`, case "dashboard", with
-- 400,000 simulation replicates and 200,000 audit rows). Counts per hour and per job come from
-- the counters of 052, not from scans. Never edit once applied.

-- A running job's rate and ETA: replicates finished in the last minute, per job.
CREATE INDEX simulation_replicates_job_finished_idx ON simulation_replicates (job_id, finished_at);
-- Experiments finished per hour (overview throughput).
CREATE INDEX experiment_results_finished_idx ON experiment_results (finished_at);
-- A definition's most recent items, and its attempts over the last day.
CREATE INDEX conversation_attempts_definition_finished_idx ON conversation_attempts (definition, finished_at DESC);
