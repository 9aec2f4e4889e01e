import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type pg from 'pg';
import { z } from 'zod';
import {
  checkpointRefSchema,
  parseTrainingJob,
  trainingJobSchema,
  type CheckpointRef,
  type TrainingJob,
  type TrainingProgress,
  type TrainModelInput,
  type TrainModelResult,
} from '../../shared/training/schemas.js';
import { describeIssues } from '../../shared/schemas.js';
import { attemptDeadline, heartbeatIntervalMs } from '../step/command.js';
import { progressSignal } from '../../shared/training/messages.js';
import { isDataError } from '../../db/errors.js';
import type { ActivityDeps } from '../deps.js';
import { resolveInsideProject } from '../step/project-paths.js';
import { inheritedEnv } from '../step/env.js';
import { executeStep, resolveProgram, type StepOutcome } from '../step/execute-step.js';
import { StepLiveness } from '../step/liveness.js';
import { describeLiveness } from '../../shared/step/liveness.js';
import { assertStepSucceeded } from '../step/failure.js';
import { readStepResult } from '../step/result-file.js';
import { prepareWorkspace, workspacePath } from '../step/workspace.js';
import { addCheckpoint, existsInside, findCheckpoint, jobDirs, openJobDir, SupersededError, trainingRoot } from './checkpoints.js';
import { formatBytes } from '../../shared/bytes.js';
import { ProgressTracker } from './progress.js';
import { parseProgressLine } from './protocol.js';
import { bestByValLoss } from './retention.js';
import { recordDiskFloorPause } from '../shepherd-metrics.js';
import { isFinalCheckpoint, metricsFromFinalCheckpoint } from './final-checkpoint.js';
import { ProgressSamples } from './progress-samples.js';
import { freeBytes } from '../step/disk-floor.js';

// trainModel: the seed's daemon-managed train.py as a heartbeating activity. The trainer runs
// under the foundation's process machinery (own process group, killed with the worker), reports
// progress as JSON lines on stdout, writes checkpoints into the job's directory and its final
// metrics into the result file. Shepherd heartbeats the latest progress, applies checkpoint
// retention after every save, watches the disk floor and the validation rule, and on a retry
// resumes from the newest checkpoint it knows of, so the step count continues.

/** @deprecated use progressSignal from src/shared/training/messages.ts. */
export const PROGRESS_SIGNAL = progressSignal.name;
export const TRAINING_CONFIG_FILE = 'training-config.json';

/** Stops the trainer at a checkpoint because free disk fell under the floor; the job is paused, not failed. */
class DiskFloorReached extends Error {
  name = 'DiskFloorReached';
}
class ValidationMissing extends Error {
  name = 'ValidationMissing';
}

const trainingRecordSchema = z.object({
  queue: z.string().min(1),
  jobId: z.string().min(1),
  instance: z.string().min(1),
  status: z.enum(['running', 'paused', 'completed', 'failed', 'cancelled', 'removed']),
  config: trainingJobSchema,
  metrics: z.record(z.string(), z.unknown()).nullish(),
  error: z.string().nullish(),
  reason: z.string().nullish(),
  warnings: z.array(z.string()).default([]),
  lastCheckpoint: checkpointRefSchema.nullish(),
  bestCheckpoint: checkpointRefSchema.nullish(),
  attempt: z.number().int().min(1).nullish(),
  workflowId: z.string().nullish(),
  runId: z.string().nullish(),
  at: z.iso.datetime({ offset: true }),
});
export type TrainingRecordInput = z.input<typeof trainingRecordSchema>;

const FINAL = ['completed', 'failed', 'cancelled', 'removed'];

/**
 * One row per enqueue (instance). Idempotent: the same write twice changes nothing; a final row
 * is never reopened by a late 'running' or 'paused' write.
 */
export async function upsertTrainingJob(pool: pg.Pool, r: z.output<typeof trainingRecordSchema>): Promise<boolean> {
  const final = FINAL.includes(r.status);
  const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
  const res = await pool.query(
    `INSERT INTO training_jobs AS t (instance, queue, job_id, status, config, metrics, error, reason, warnings,
        last_checkpoint, best_checkpoint, attempt, workflow_id, run_id, started_at, finished_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
     ON CONFLICT (instance) DO UPDATE SET
       status = EXCLUDED.status,
       config = EXCLUDED.config,
       metrics = COALESCE(EXCLUDED.metrics, t.metrics),
       error = EXCLUDED.error,
       reason = EXCLUDED.reason,
       warnings = EXCLUDED.warnings,
       last_checkpoint = COALESCE(EXCLUDED.last_checkpoint, t.last_checkpoint),
       best_checkpoint = COALESCE(EXCLUDED.best_checkpoint, t.best_checkpoint),
       attempt = COALESCE(EXCLUDED.attempt, t.attempt),
       workflow_id = EXCLUDED.workflow_id,
       run_id = EXCLUDED.run_id,
       started_at = COALESCE(t.started_at, EXCLUDED.started_at),
       finished_at = EXCLUDED.finished_at,
       updated_at = now()
     WHERE t.status NOT IN ('completed', 'failed', 'cancelled', 'removed')`,
    [
      r.instance,
      r.queue,
      r.jobId,
      r.status,
      JSON.stringify(r.config),
      json(r.metrics),
      r.error ?? null,
      r.reason ?? null,
      JSON.stringify(r.warnings),
      json(r.lastCheckpoint),
      json(r.bestCheckpoint),
      r.attempt ?? null,
      r.workflowId ?? null,
      r.runId ?? null,
      r.status === 'running' ? r.at : null,
      final ? r.at : null,
    ],
  );
  return (res.rowCount ?? 0) > 0;
}

function substituteProject(args: readonly string[], projectDir: string): string[] {
  return args.map((a) => a.replaceAll('{project}', projectDir));
}

function isCheckpointRef(v: unknown): v is CheckpointRef {
  return checkpointRefSchema.safeParse(v).success;
}

/** Heartbeat details from an earlier attempt of this very job, if any. */
function previousProgress(details: unknown, instance: string): TrainingProgress | null {
  if (typeof details !== 'object' || details === null) return null;
  const p = details as Partial<TrainingProgress>;
  return p.instance === instance ? (p as TrainingProgress) : null;
}

/**
 * Sends progress to the queue workflow as signals, which are history events: never two at once,
 * at most every intervalMs, and the interval grows with the attempt's age (a thousandth of it),
 * so even a job running for days adds a few thousand signals to the queue's history, not tens of
 * thousands. Forced reports (the attempt's start, its end) go out regardless.
 */
class ProgressReporter {
  private lastSent = 0;
  private readonly started = Date.now();
  private inflight: Promise<void> | null = null;
  private queued: { p: TrainingProgress } | null = null;

  constructor(
    private readonly send: ((p: TrainingProgress) => Promise<void>) | null,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  report(p: TrainingProgress, force = false): void {
    if (!this.send) return;
    const now = Date.now();
    if (!force && now - this.lastSent < Math.max(this.intervalMs, (now - this.started) / 1000)) return;
    if (this.inflight) {
      if (force) this.queued = { p };
      return;
    }
    this.lastSent = Date.now();
    this.inflight = this.send(p)
      .catch(this.onError)
      .finally(() => {
        this.inflight = null;
        const next = this.queued;
        this.queued = null;
        if (next) this.report(next.p, true);
      });
  }

  /** Delivers `p` (after anything in flight), bounded in time: used before giving up the attempt. */
  async flush(p: TrainingProgress, timeoutMs = 5000): Promise<void> {
    if (!this.send) return;
    const send = this.send;
    const work = (async () => {
      while (this.inflight) await this.inflight;
      this.queued = null;
      await send(p).catch(this.onError);
    })();
    await Promise.race([work, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }
}

export function createTrainingActivities(deps: ActivityDeps) {
  const projectDir = path.resolve(deps.projectDir ?? process.cwd());
  const root = trainingRoot(deps.runsDir);

  /** Paths a job names, resolved inside the project; throws non-retryable naming the field. */
  function resolveJobPaths(job: TrainingJob) {
    const dataset = resolveInsideProject(projectDir, job.dataset, 'job.dataset');
    const baseModel = job.baseModel ? resolveInsideProject(projectDir, job.baseModel, 'job.baseModel') : null;
    const args = substituteProject(job.trainer.args, projectDir);
    job.trainer.args.forEach((raw, i) => {
      if (raw.startsWith('{project}/')) resolveInsideProject(projectDir, raw.slice('{project}/'.length), `job.trainer.args[${i}]`);
    });
    try {
      resolveProgram(job.trainer.command, inheritedEnv().PATH ?? '', projectDir);
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`job.trainer.command: ${(err as Error).message}`, 'InvalidInput');
    }
    return { dataset, baseModel, args };
  }

  return {
    /**
     * Checks what an update validator cannot (it must be synchronous and deterministic): that the
     * job's dataset, base model and trainer exist on the worker. Run as a local activity by the
     * enqueue handler before the job joins the queue.
     */
    async validateTrainingJob({ job }: { job: unknown }): Promise<{ effectiveConfig: TrainingJob }> {
      let parsed: TrainingJob;
      try {
        parsed = parseTrainingJob(job);
      } catch (err) {
        throw ApplicationFailure.nonRetryable((err as Error).message, 'InvalidInput');
      }
      resolveJobPaths(parsed);
      return { effectiveConfig: parsed };
    },

    /** Upserts the job's row (effective config, status, metrics). Idempotent per enqueue. */
    async recordTrainingJob(row: TrainingRecordInput): Promise<{ written: boolean }> {
      const parsed = trainingRecordSchema.safeParse(row);
      if (!parsed.success)
        throw ApplicationFailure.nonRetryable(`invalid training record: ${describeIssues(parsed.error, 'row')}`, 'InvalidInput');
      try {
        return { written: await upsertTrainingJob(deps.pool, parsed.data) };
      } catch (err) {
        if (isDataError(err))
          throw ApplicationFailure.nonRetryable(`database rejected the training record (${err.code}): ${err.message}`, 'InvalidResult');
        throw err;
      }
    },

    /**
     * Runs one training job to completion (or to the disk floor). Failures: InvalidInput,
     * CommandNotFound (non-retryable); ValidationMissing (non-retryable, when the job's policy is
     * "fail"); CommandFailed / StepTimedOut (retryable: the next attempt resumes from the newest
     * checkpoint). Cancellation stops the trainer with SIGTERM (it saves a checkpoint) and is
     * rethrown after the last progress reached the queue.
     */
    async trainModel(input: TrainModelInput): Promise<TrainModelResult> {
      const ctx = Context.current();
      const { info } = ctx;
      const started = Date.now();
      let job: TrainingJob;
      try {
        job = trainingJobSchema.parse(input.job);
      } catch (err) {
        throw ApplicationFailure.nonRetryable(
          `invalid job: ${err instanceof z.ZodError ? describeIssues(err, 'job') : String(err)}`,
          'InvalidInput',
        );
      }
      const { dataset, baseModel, args } = resolveJobPaths(job);
      const workflowId = info.workflowExecution?.workflowId ?? `activity-${info.activityId}`;
      const dirs = jobDirs(root, input.queue, job.jobId, input.instance);
      const store = deps.artifacts;
      const manifest = await openJobDir(dirs, { instance: input.instance, queue: input.queue, jobId: job.jobId }, store);

      // Resume from the newest checkpoint that still exists: the one in this activity's last
      // heartbeat (a retry after a crash), the one the queue handed over (after a pause), or a
      // newer one this job's manifest recorded after that heartbeat was sent.
      const previous = previousProgress(info.heartbeatDetails, input.instance);
      const candidates = [previous?.lastCheckpoint, input.resumeFrom, ...manifest.checkpoints]
        .filter(isCheckpointRef)
        .sort((a, b) => b.step - a.step);
      let resumeFrom: CheckpointRef | null = null;
      for (const c of candidates) {
        resumeFrom = await findCheckpoint(dirs, c, store);
        if (resumeFrom) break;
      }
      const warnings = [...(previous?.warnings ?? [])];
      if (!resumeFrom && candidates.length > 0) {
        warnings.push(
          `checkpoint ${candidates[0]!.path} (step ${candidates[0]!.step}) no longer exists; training starts again from step 0`,
        );
      }

      const tracker = new ProgressTracker({
        jobId: job.jobId,
        instance: input.instance,
        attempt: info.attempt,
        totalSteps: job.steps,
        requiredEvery: job.validation.requiredEvery,
        startStep: resumeFrom?.step ?? 0,
        resumedFrom: resumeFrom?.path ?? null,
        lastCheckpoint: resumeFrom,
        bestCheckpoint: bestByValLoss(manifest.checkpoints),
        now: Date.now,
      });
      for (const w of warnings) tracker.warn(w);
      // Loss curves for the dashboard (bounded, downsampled, best effort).
      const samples = new ProgressSamples(deps.pool, input.instance, info.attempt, job.steps, deps.logger);
      const beat = () => ctx.heartbeat(tracker.snapshot());
      beat();

      let client: Context['client'] | null = null;
      try {
        client = ctx.client;
      } catch {
        deps.logger.warn('no Temporal client in the activity context: the queue will not see live progress');
      }
      const reporter = new ProgressReporter(
        client ? (p) => client!.workflow.getHandle(workflowId).signal(progressSignal, p) : null,
        input.progressIntervalMs,
        (err) => deps.logger.warn({ err, jobId: job.jobId }, 'could not report training progress to the queue'),
      );

      const floor = job.minFreeDiskBytes ?? input.minFreeDiskBytes;
      const underFloor = async (): Promise<string | null> => {
        const free = await freeBytes(dirs.checkpoints);
        return free < floor ? `free disk ${formatBytes(free)} at ${dirs.checkpoints} is under the floor of ${formatBytes(floor)}` : null;
      };

      const result = (
        status: TrainModelResult['status'],
        reason: string | null,
        extra: { metrics?: Record<string, unknown> | null; outcome?: StepOutcome } = {},
      ): TrainModelResult => {
        const p = tracker.snapshot();
        return {
          status,
          reason,
          jobId: job.jobId,
          instance: input.instance,
          attempt: info.attempt,
          step: p.step,
          totalSteps: p.totalSteps,
          trainLoss: p.trainLoss,
          valLoss: p.valLoss,
          gap: p.gap,
          lastCheckpoint: tracker.lastCheckpoint,
          bestCheckpoint: tracker.bestCheckpoint,
          retained: [...manifest.checkpoints],
          startStep: p.startStep,
          warnings: p.warnings,
          metrics: extra.metrics ?? null,
          durationMs: Date.now() - started,
          peakRssBytes: extra.outcome?.peakRssBytes ?? 0,
          ...(extra.outcome ? { longestSilenceMs: extra.outcome.longestSilenceMs } : {}),
          checkpointDir: dirs.checkpoints,
          effectiveConfig: job,
        };
      };

      if (resumeFrom && isFinalCheckpoint(resumeFrom, job.steps)) {
        // Killed after the last checkpoint: nothing left to train, the checkpoint holds the result.
        const finalIssue = tracker.finalCheck(resumeFrom.valLoss);
        if (finalIssue && job.validation.onMissing === 'fail') {
          throw ApplicationFailure.nonRetryable(`job ${job.jobId}: ${finalIssue}`, 'ValidationMissing', tracker.snapshot());
        }
        if (finalIssue) tracker.warn(`validation missing: ${finalIssue}`);
        beat();
        const metrics = metricsFromFinalCheckpoint(resumeFrom, job.steps);
        return {
          ...result('completed', null, { metrics: store ? { ...metrics, artifacts: store.locate(dirs.key) } : metrics }),
          valLoss: resumeFrom.valLoss,
        };
      }

      const lowDisk = await underFloor();
      if (lowDisk) {
        recordDiskFloorPause();
        return result('paused', lowDisk);
      }

      const workspace = workspacePath(deps.runsDir, {
        workflowId,
        runId: info.workflowExecution?.runId,
        activityId: info.activityId,
        attempt: info.attempt,
      });
      await prepareWorkspace(workspace, { files: [], inputs: [] });
      const configFile = path.join(workspace, TRAINING_CONFIG_FILE);
      await writeFile(
        configFile,
        JSON.stringify(
          {
            dataset,
            validationFraction: job.validationFraction,
            seed: job.seed,
            steps: job.steps,
            evalInterval: job.evalInterval,
            checkpointInterval: job.checkpointInterval,
            checkpointDir: dirs.checkpoints,
            resumeFrom: resumeFrom?.path ?? null,
            baseModel,
            params: job.params,
          },
          null,
          2,
        ),
      );

      const stopper = new AbortController();
      const stopTrainer = (reason: Error) => {
        if (!stopper.signal.aborted) stopper.abort(reason);
      };
      const onValidationGap = (message: string) => {
        if (job.validation.onMissing === 'fail') stopTrainer(new ValidationMissing(message));
        else tracker.warn(`validation missing: ${message}`);
      };

      // Checkpoint bookkeeping touches files: one at a time, in the order the trainer reported.
      let chain: Promise<void> = Promise.resolve();
      const afterCheckpoint = (ref: CheckpointRef) => {
        chain = chain.then(async () => {
          try {
            if (!(await existsInside(dirs.checkpoints, ref.path))) {
              tracker.warn(`checkpoint ${ref.path} reported at step ${ref.step} is not a file inside ${dirs.checkpoints}; ignored`);
              return;
            }
            const plan = await addCheckpoint(dirs, manifest, ref, job.retention.keepLast, job.retention.keepBest, store);
            tracker.lastCheckpoint = ref;
            tracker.bestCheckpoint = plan.best;
            beat();
            reporter.report(tracker.snapshot());
            const low = await underFloor();
            if (low) stopTrainer(new DiskFloorReached(low));
          } catch (err) {
            if (err instanceof SupersededError) stopTrainer(err);
            else tracker.warn(`checkpoint bookkeeping failed at step ${ref.step}: ${(err as Error).message}`);
          }
        });
      };

      // Only a step advance (or the start record) is a sign of life: a trainer that keeps
      // logging but never advances is stalled all the same.
      const liveness = new StepLiveness('progress');
      const onLine = (line: string) => {
        const parsed = parseProgressLine(line);
        if (parsed.kind === 'text') return;
        if (parsed.kind === 'invalid') {
          tracker.warn(parsed.error);
          return;
        }
        const e = parsed.event;
        const before = tracker.currentStep;
        const gap = tracker.apply(e);
        if (e.event === 'start' || tracker.currentStep > before) liveness.progress();
        samples.add(e);
        if (e.event === 'checkpoint') {
          const valLoss = e.val_loss ?? (tracker.lastEval?.step === e.step ? tracker.lastEval.valLoss : null);
          afterCheckpoint({ step: e.step, path: path.resolve(dirs.checkpoints, e.path), valLoss });
        }
        if (gap) onValidationGap(gap);
        beat();
        reporter.report(tracker.snapshot(), e.event === 'start');
      };

      const spec = {
        command: job.trainer.command,
        args,
        env: { ...job.trainer.env, SHEPHERD_TRAINING_CONFIG: configFile },
        graceMs: job.trainer.graceMs,
        nonRetryableExitCodes: job.trainer.nonRetryableExitCodes,
        resultRequired: true,
        ...(job.progressTimeout === undefined ? {} : { progressTimeout: job.progressTimeout }),
      };
      let outcome: StepOutcome;
      try {
        outcome = await executeStep(spec, {
          workspace,
          signal: AbortSignal.any([ctx.cancellationSignal, stopper.signal]),
          deadline: attemptDeadline(started, info.startToCloseTimeoutMs),
          procDir: deps.procDir,
          sampleIntervalMs: heartbeatIntervalMs(info.heartbeatTimeoutMs),
          liveness,
          onProgress: (p) => {
            tracker.liveness = {
              silentMs: p.silentMs,
              longestSilenceMs: p.longestSilenceMs,
              progressTimeoutMs: p.progressTimeoutMs,
              state: describeLiveness({ ...p, evidence: 'progress' }),
            };
            beat();
            reporter.report(tracker.snapshot());
          },
          onStdoutLine: onLine,
          logger: deps.logger,
        });
      } catch (err) {
        await chain;
        await samples.flush();
        if (ctx.cancellationSignal.aborted) {
          // The trainer saved a checkpoint on SIGTERM; make sure the queue knows it before it
          // requeues the job (the manifest has it too, should this signal be lost).
          await reporter.flush(tracker.snapshot());
          throw err;
        }
        const reason = stopper.signal.reason as Error | undefined;
        if (stopper.signal.aborted && reason instanceof DiskFloorReached) {
          recordDiskFloorPause();
          beat();
          return result('paused', reason.message);
        }
        if (stopper.signal.aborted && reason instanceof ValidationMissing) {
          throw ApplicationFailure.nonRetryable(`job ${job.jobId}: ${reason.message}`, 'ValidationMissing', tracker.snapshot());
        }
        if (stopper.signal.aborted && reason instanceof SupersededError) {
          throw ApplicationFailure.retryable(reason.message, 'Superseded');
        }
        throw err;
      }
      await chain;
      await samples.flush();
      tracker.liveness = null;
      beat();
      if (outcome.stalled) {
        // Retryable: the next attempt resumes from the newest checkpoint.
        throw ApplicationFailure.retryable(
          `job ${job.jobId}: the trainer made no progress past step ${tracker.currentStep} for ${Math.round(outcome.stalled.silentMs / 1000)} s (progressTimeout ${job.progressTimeout}); stopped. Last output line: ${JSON.stringify(outcome.lastOutputLine?.slice(0, 300) ?? null)}`,
          'StepStalled',
          { ...tracker.snapshot(), longestSilenceMs: outcome.longestSilenceMs },
        );
      }
      assertStepSucceeded(spec, outcome);
      const metrics = await readStepResult(outcome.resultFile, true);
      if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) {
        throw ApplicationFailure.nonRetryable(
          `job ${job.jobId}: the trainer's result file must hold a JSON object of metrics`,
          'ResultInvalid',
        );
      }
      const m = metrics as Record<string, unknown>;
      const finalIssue = tracker.finalCheck(typeof m.valLoss === 'number' ? m.valLoss : null);
      if (finalIssue) {
        if (job.validation.onMissing === 'fail') {
          throw ApplicationFailure.nonRetryable(`job ${job.jobId}: ${finalIssue}`, 'ValidationMissing', tracker.snapshot());
        }
        tracker.warn(`validation missing: ${finalIssue}`);
      }
      // The row in PostgreSQL says where the job's checkpoints are kept beyond this machine.
      return result('completed', null, { metrics: store ? { ...m, artifacts: store.locate(dirs.key) } : m, outcome });
    },
  };
}
