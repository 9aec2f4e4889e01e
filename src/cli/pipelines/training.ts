import type { Command } from 'commander';
import { trainingQueueInputSchema, type TrainingLiveness } from '../../shared/training/schemas.js';
import { describeSilence } from '../../shared/step/liveness.js';
import { describeIssues } from '../../shared/schemas.js';
import { readDefinitionFile } from '../../config/input-file.js';
import { training, type QueueStatus, type TrainingQueueResult } from '../../client/index.js';
import { InvalidInputError } from '../../client/errors.js';
import { EXIT } from '../../shared/exit-codes.js';
import { connected, emit } from '../cli-context.js';
import type { PipelineAdapter } from './adapter.js';

const num = (v: number | null | undefined, d = 4) => (v === null || v === undefined ? 'n/a' : v.toFixed(d));

/** ", no progress for 2m" / ", stalled for 5m: ..." when the trainer's steps stopped advancing; else nothing. */
function silence(l: TrainingLiveness | undefined): string {
  if (!l) return '';
  const s = describeSilence({ silentMs: l.silentMs, progressTimeoutMs: l.progressTimeoutMs, evidence: 'progress' });
  return s === null ? '' : s.startsWith('stalled') ? `; ${s}` : `, ${s}`;
}

function statusLines(s: QueueStatus): string[] {
  const cur = s.current;
  const p = cur?.progress;
  return [
    `  queue ${s.queue}: ${s.stage}${s.paused ? ` (paused: ${s.pauseReason})` : ''}; ${s.counts.completed} completed, ${s.counts.failed} failed, ${s.counts.cancelled} cancelled`,
    cur
      ? `  running ${cur.jobId}: step ${p?.step ?? 0}/${p?.totalSteps ?? cur.config.steps}, train loss ${num(p?.trainLoss)}, val loss ${num(p?.valLoss)}, ETA ${p?.etaSeconds == null ? 'n/a' : `${Math.round(p.etaSeconds)}s`}${silence(p?.liveness)}`
      : '  nothing running',
    ...s.pending.map((j) => `  queued ${j.jobId} (${j.steps} steps${j.resumeFrom ? `, resumes at ${j.resumeFrom.step}` : ''})`),
  ];
}

export const trainingCli: PipelineAdapter<unknown, TrainingQueueResult, QueueStatus> = {
  name: 'training',
  noun: 'queue',
  validate(raw) {
    const parsed = trainingQueueInputSchema.safeParse(raw);
    if (!parsed.success) throw new InvalidInputError(`invalid training queue: ${describeIssues(parsed.error)}`);
    return { id: parsed.data.queue, summary: `training queue ${parsed.data.queue}`, input: raw };
  },
  start: (client, input, taskQueue) => training.start(client, input as never, { taskQueue, attachIfRunning: true }),
  get: (client, id) => training.get(client, id),
  progressLines: (s) => statusLines(s),
  counts(s) {
    const p = s.current?.progress;
    if (!s.current) return undefined;
    return {
      done: p?.step ?? 0,
      total: p?.totalSteps ?? s.current.config.steps,
      failed: s.counts.failed,
      detail: `${s.current.jobId} loss ${num(p?.trainLoss)} val ${num(p?.valLoss)} ETA ${p?.etaSeconds == null ? 'n/a' : `${Math.round(p.etaSeconds)}s`}`,
    };
  },
  resultLines: (r) => [
    `queue ${r.queue} stopped: ${r.counts.completed} completed, ${r.counts.failed} failed, ${r.counts.cancelled} cancelled`,
    ...r.notRun.map((j) => `  not run: ${j.jobId}`),
  ],
  // A queue is a service: stopping it is its normal end (see README, "How pipelines end").
  outcome: () => 'completed',
};

/** The queue's own verbs: enqueue | pause | resume | stop | cancel-current | remove | queue. */
export function registerTrainingVerbs(cmd: Command): void {
  const verb = (
    name: string,
    description: string,
    run: (h: ReturnType<typeof training.get>, ...args: string[]) => Promise<unknown>,
    args: string[] = [],
  ) => {
    const c = cmd.command(name).description(description).argument('<queue>');
    for (const a of args) c.argument(a);
    c.option('--json', 'machine-readable output').action(async (...all: unknown[]) => {
      const command = all.at(-1) as Command;
      const opts = all.at(-2) as { json?: boolean };
      const [queue, ...rest] = all.slice(0, -2) as string[];
      process.exitCode = await connected(command, async (client) => {
        const out = await run(training.get(client, queue), ...rest);
        const status = (out as QueueStatus).stage !== undefined ? (out as QueueStatus) : undefined;
        emit(Boolean(opts.json), out, status ? statusLines(status) : [JSON.stringify(out)]);
        return EXIT.ok;
      });
    });
  };
  verb('enqueue', 'add a training job (JSON/YAML file) to the queue', (h, file) => h.enqueue(readDefinitionFile(file) as never), [
    '<jobFile>',
  ]);
  verb('pause', 'pause the queue (the running job checkpoints and stops)', (h) => h.pause());
  verb('resume', 'resume a paused queue', (h) => h.resume());
  verb('stop', 'stop the queue after the running job checkpoints', (h) => h.stop());
  verb('cancel-current', 'cancel the running job', (h) => h.cancelCurrent());
  verb('remove', 'remove a queued job', (h, jobId) => h.remove(jobId), ['<jobId>']);
  verb('queue', "the queue's status: running job (step, loss, ETA), queued jobs, counts", (h) => h.progress());
}
