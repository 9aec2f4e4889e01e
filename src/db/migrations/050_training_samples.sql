-- Training loss curves for the dashboard: progress samples per enqueue (instance), downsampled by
-- the training activity to at most a few hundred points per series whatever the job's length
-- (see src/activities/training/progress-samples.ts). Keyed by (instance, step), so a retried
-- attempt that resumes from a checkpoint rewrites the steps it repeats instead of adding rows.
-- Never edit once applied: add a new migration instead.

CREATE TABLE training_samples (
  instance     text NOT NULL,
  step         integer NOT NULL CHECK (step >= 0),
  attempt      integer NOT NULL CHECK (attempt >= 1),
  train_loss   double precision,
  val_loss     double precision,
  recorded_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance, step)
);
