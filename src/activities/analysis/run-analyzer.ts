import { lstatSync } from 'node:fs';
import { cp, stat } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { ModelRegistry } from '../../config/models.js';
import { describeIssues } from '../../shared/schemas.js';
import { storeAnalyzerResult } from '../../db/analysis/findings-store.js';
import type { AnalyzerName, AnalyzerOutcome, RunAnalyzerInput } from '../../shared/analysis/analyzers.js';
import type { AppAddress } from '../../shared/containers.js';
import { attemptDeadline, attemptDiskFloor, heartbeatIntervalMs } from '../step/command.js';
import type { ActivityDeps } from '../deps.js';
import { prepareWorkspace, workspacePath } from '../step/workspace.js';
import { progressTimeoutSchema } from '../../shared/step/liveness.js';
import { runAiReview, type AiReviewConfig } from './ai-review.js';
import type { AnalyzerResult } from './analyzer-result.js';
import { runDynamicAnalyzer, type DynamicConfig } from './dynamic-nmap.js';
import { countBySeverity, normalizeFindings, writeSarif } from './findings.js';
import { runPerformanceAnalyzer, type PerformanceConfig } from './performance-autocannon.js';
import { runStaticAnalyzer, SOURCE_DIR } from './static-eslint.js';
import type { AnalyzerEnv } from './step.js';

// runAnalyzer: one analyzer over one target, as one heartbeating activity attempt with its own
// workspace. The full report (SARIF) stays in the workspace and the findings go to PostgreSQL in
// one transaction; only counts and a reference travel back through Temporal, so a 300-finding
// report cannot hit a payload limit (nor be lost by a closing socket, as in the seed).

export interface AnalysisDeps extends ActivityDeps {
  /** The worker's model registry for ai-review; default loadModelRegistry() (SHEPHERD_MODELS_FILE). */
  registry?: ModelRegistry;
}

const NEEDS_APP: readonly AnalyzerName[] = ['dynamic', 'performance'];
const NEEDS_SOURCE: readonly AnalyzerName[] = ['static', 'ai-review'];
const SKIPPED_DIRS = new Set(['node_modules', '.git']);

const addressSchema = z.object({
  containerId: z.string(),
  name: z.string(),
  host: z.object({ host: z.literal('127.0.0.1'), port: z.number().int().min(1).max(65535) }),
  network: z.object({ name: z.string(), host: z.string(), port: z.number().int() }).optional(),
});

const inputSchema = z.object({
  pipelineId: z.string().min(1),
  target: z.object({ model: z.string().min(1), app: z.string().min(1), sourceDir: z.string().min(1) }),
  analyzer: z.enum(['static', 'dynamic', 'performance', 'ai-review']),
  address: addressSchema.optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  progressTimeout: progressTimeoutSchema.optional(),
  runId: z.string().min(1),
});

function parseInput(input: unknown): RunAnalyzerInput {
  const parsed = inputSchema.safeParse(input);
  if (!parsed.success)
    throw ApplicationFailure.nonRetryable(`invalid runAnalyzer input: ${describeIssues(parsed.error, 'input')}`, 'InvalidAnalyzerInput');
  const value = parsed.data as RunAnalyzerInput;
  if (NEEDS_APP.includes(value.analyzer) && !value.address) {
    throw ApplicationFailure.nonRetryable(
      `input.address: the ${value.analyzer} analyzer needs the running app's address`,
      'InvalidAnalyzerInput',
    );
  }
  return value;
}

/** The source directory inside the project (relative paths resolve against it), which must exist. */
async function resolveSource(projectDir: string, sourceDir: string): Promise<string> {
  const root = path.resolve(projectDir);
  const abs = path.resolve(root, sourceDir);
  if (abs !== root && !abs.startsWith(root + path.sep)) {
    throw ApplicationFailure.nonRetryable(
      `input.target.sourceDir: ${sourceDir} is outside the project directory ${root}`,
      'InvalidAnalyzerInput',
    );
  }
  const st = await stat(abs).catch(() => undefined);
  if (!st?.isDirectory())
    throw ApplicationFailure.nonRetryable(`input.target.sourceDir: ${sourceDir} is not a directory under ${root}`, 'InvalidAnalyzerInput');
  return abs;
}

function dispatch(env: AnalyzerEnv, input: RunAnalyzerInput, deps: AnalysisDeps, heartbeatTimeoutMs?: number): Promise<AnalyzerResult> {
  const config = input.config ?? {};
  switch (input.analyzer) {
    case 'static':
      return runStaticAnalyzer(env, input.target.sourceDir);
    case 'dynamic':
      return runDynamicAnalyzer(env, input.address as AppAddress, config as DynamicConfig);
    case 'performance':
      return runPerformanceAnalyzer(env, input.address as AppAddress, config as PerformanceConfig);
    case 'ai-review':
      return runAiReview(env, path.join(env.workspace, SOURCE_DIR), config as AiReviewConfig, deps.registry, heartbeatTimeoutMs);
  }
}

export function createRunAnalyzer(deps: AnalysisDeps) {
  return async function runAnalyzer(raw: RunAnalyzerInput): Promise<AnalyzerOutcome> {
    const input = parseInput(raw);
    const ctx = Context.current();
    const { info } = ctx;
    const startedAt = Date.now();
    const t0 = performance.now();
    ctx.heartbeat({ analyzer: input.analyzer, phase: 'preparing', elapsedMs: 0 });
    const workspace = workspacePath(deps.runsDir, {
      workflowId: info.workflowExecution?.workflowId ?? `activity-${info.activityId}`,
      activityId: info.activityId,
      attempt: info.attempt,
    });
    const sourceAbs = await resolveSource(deps.projectDir ?? process.cwd(), input.target.sourceDir);
    // The source copy and reports go to the data dir: no analyzer starts under the disk floor.
    await attemptDiskFloor(deps, startedAt, (waiting) =>
      ctx.heartbeat({ analyzer: input.analyzer, phase: 'waiting', elapsedMs: Date.now() - startedAt, waiting }),
    );
    await prepareWorkspace(workspace, { files: [], inputs: [] });
    // The analysed tree is copied in: tools read a snapshot, never write into the user's tree.
    // Vendored dependencies and VCS data are not the app's code (and can be huge); symlinks are
    // left out so a link in the tree cannot pull files from outside it into the analysis.
    if (NEEDS_SOURCE.includes(input.analyzer)) {
      await cp(sourceAbs, path.join(workspace, SOURCE_DIR), {
        recursive: true,
        filter: (src) => src === sourceAbs || (!SKIPPED_DIRS.has(path.basename(src)) && !lstatSync(src).isSymbolicLink()),
      });
    }
    const env: AnalyzerEnv = {
      analyzer: input.analyzer,
      workspace,
      signal: ctx.cancellationSignal,
      deadline: attemptDeadline(startedAt, info.startToCloseTimeoutMs),
      procDir: deps.procDir,
      sampleIntervalMs: heartbeatIntervalMs(info.heartbeatTimeoutMs),
      heartbeat: (d) => ctx.heartbeat(d),
      logger: deps.logger,
      attempt: info.attempt,
      ...(input.progressTimeout !== undefined ? { progressTimeout: input.progressTimeout } : {}),
    };
    const result = await dispatch(env, input, deps, info.heartbeatTimeoutMs);
    // A cancelled attempt (pipeline cancelled, worker shutting down) stores nothing.
    ctx.cancellationSignal.throwIfAborted();
    const findings = normalizeFindings(result.findings);
    const bySeverity = countBySeverity(findings);
    const reportRef = await writeSarif(path.join(workspace, 'report.sarif'), result.tool, findings);
    const durationMs = Math.round(performance.now() - t0);
    ctx.heartbeat({ analyzer: input.analyzer, phase: 'storing', findings: findings.length });
    const stored = await storeAnalyzerResult(
      deps.pool,
      {
        pipelineId: input.pipelineId,
        model: input.target.model,
        app: input.target.app,
        analyzer: input.analyzer,
        runId: input.runId,
        attempt: info.attempt,
        scheduledMs: info.currentAttemptScheduledTimestampMs,
      },
      { status: result.status, reason: result.reason, bySeverity, metrics: result.metrics, reportRef, durationMs },
      findings,
    );
    if (!stored.stored) {
      deps.logger.warn(
        { analyzer: input.analyzer, attempt: info.attempt, winner: stored.winner },
        "a newer attempt already stored this analyzer's findings; this attempt's were discarded",
      );
    }
    return {
      analyzer: input.analyzer,
      status: result.status,
      ...(result.reason ? { reason: result.reason } : {}),
      findings: findings.length,
      bySeverity,
      reportRef,
      durationMs,
      ...(result.metrics ? { metrics: result.metrics } : {}),
    };
  };
}
