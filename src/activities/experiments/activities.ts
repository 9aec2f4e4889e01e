import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ExperimentConfig } from '../../shared/experiments/schemas.js';
import { createCommandActivities } from '../step/command.js';
import type { StepOutput } from '../step/output-artifacts.js';
import type { ActivityDeps } from '../deps.js';
import { resolveInsideProject } from '../step/project-paths.js';

export interface ExperimentRunResult {
  metrics: Record<string, unknown>;
  attempt: number;
  durationMs: number;
  peakRssBytes: number;
  outputs: StepOutput[];
  workspace: string;
  /** Longest time the program went without output or file growth (progressTimeout recommendations). */
  longestSilenceMs?: number;
}

const DATASET_DIR = 'input';

export function createExperimentActivities(deps: ActivityDeps) {
  const { runCommand } = createCommandActivities(deps);
  const projectDir = path.resolve(deps.projectDir ?? process.cwd());

  return {
    /** Runs one experiment's program in a fresh workspace; its dataset is copied in, its metrics read from the result file. */
    async runExperiment({ batchId, experiment }: { batchId: string; experiment: ExperimentConfig }): Promise<ExperimentRunResult> {
      const datasetRel = experiment.dataset ? path.posix.join(DATASET_DIR, path.basename(experiment.dataset)) : undefined;
      const inputs = experiment.dataset
        ? [{ source: resolveInsideProject(projectDir, experiment.dataset, 'experiment.dataset'), path: datasetRel! }]
        : [];
      const args = experiment.args.map((a) => a.replaceAll('{project}', projectDir).replaceAll('{dataset}', datasetRel ?? ''));
      const run = await runCommand({
        command: experiment.command,
        args,
        env: { ...experiment.env, SHEPHERD_BATCH_ID: batchId, SHEPHERD_EXPERIMENT: experiment.name },
        inputs,
        outputs: experiment.outputs,
        nonRetryableExitCodes: experiment.nonRetryableExitCodes,
        ...(experiment.progressTimeout === undefined ? {} : { progressTimeout: experiment.progressTimeout }),
      });
      const metrics = run.result;
      if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) {
        throw ApplicationFailure.nonRetryable(
          `experiment ${experiment.name}: result file must hold a JSON object of metrics`,
          'ResultInvalid',
        );
      }
      return {
        metrics: metrics as Record<string, unknown>,
        attempt: Context.current().info.attempt,
        durationMs: run.durationMs,
        peakRssBytes: run.peakRssBytes,
        outputs: run.outputs,
        workspace: run.workspace,
        longestSilenceMs: run.longestSilenceMs,
      };
    },
  };
}
