-- Progress-based liveness (issue 12): the longest time a command step went without an output
-- line or growth of its workspace files, per run, so a progressTimeout can be recommended from
-- what healthy runs actually do (`shepherd experiments recommend`). NULL: not measured (rows
-- written before this column, module replicates run inside the worker).
ALTER TABLE experiment_results
  ADD COLUMN longest_silence_ms integer CHECK (longest_silence_ms IS NULL OR longest_silence_ms >= 0);

ALTER TABLE simulation_replicates
  ADD COLUMN longest_silence_ms integer CHECK (longest_silence_ms IS NULL OR longest_silence_ms >= 0);
