-- Indexes for the dashboard's pages (measured in `npm run bench`, case "dashboard", with
-- 400,000 simulation replicates and 200,000 audit rows). Never edit once applied.

-- Throughput per hour and latency over time scan the audit log by time alone.
CREATE INDEX conversation_attempts_finished_idx ON conversation_attempts (finished_at);
-- A running job's rate and ETA: replicates finished in the last minute, per job.
CREATE INDEX simulation_replicates_job_finished_idx ON simulation_replicates (job_id, finished_at);
-- Throughput per hour across pipelines.
CREATE INDEX simulation_replicates_finished_idx ON simulation_replicates (finished_at);
CREATE INDEX experiment_results_finished_idx ON experiment_results (finished_at);
-- One item's audit log, in order.
CREATE INDEX conversation_attempts_item_key_idx ON conversation_attempts (item_key, id);
