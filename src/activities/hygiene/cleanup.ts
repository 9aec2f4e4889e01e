import type { ArtifactStore } from '../../storage/artifact-store.js';
import { deleteRunArtifacts } from '../step/output-artifacts.js';
import { rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityDeps } from '../deps.js';
import { describeIssues } from '../../shared/schemas.js';
import {
  retentionPolicySchema,
  type RunReport,
  type WorkspaceCleanupInput,
  type WorkspaceCleanupReport,
} from '../../shared/hygiene/schemas.js';
import { diskState } from '../step/disk-floor.js';
import { outcomeOf } from './outcome.js';
import { planCleanup, type Decision, type RunFacts } from './plan.js';
import { holdsRunningStep, runningWorkspaces, scanRuns, type RunTree } from './scan.js';

// The cleanWorkspaces activity: applies the retention policy to the runs dir, heartbeating as it
// walks and deletes, and reports what went, what stayed and why.

/** Runs listed per kind in the report; the totals always count all of them. */
export const REPORT_LIST_CAP = 200;

type Tree = RunTree & { status: string };
type Beat = (phase: string, extra?: Record<string, unknown>) => void;

/** Heartbeats at most once a second unless there is news; throws on cancellation. */
function heartbeater(ctx: Context): { beat: Beat; tick: () => void } {
  let walked = 0;
  let last = 0;
  const beat: Beat = (phase, extra = {}) => {
    if (Date.now() - last < 1000 && Object.keys(extra).length === 0) return;
    last = Date.now();
    ctx.heartbeat({ phase, entriesWalked: walked, ...extra });
  };
  const tick = () => {
    walked++;
    if (walked % 500 === 0) beat('scanning');
    if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
  };
  return { beat, tick };
}

async function gatherFacts(client: Client, trees: RunTree[], procDir: string, writeCache: boolean, beat: Beat): Promise<RunFacts<Tree>[]> {
  const running = await runningWorkspaces(procDir);
  const facts: RunFacts<Tree>[] = [];
  for (const tree of trees) {
    beat('asking Temporal how runs ended');
    const o = await outcomeOf(client, tree, writeCache);
    const protectedBy =
      o.class === 'running'
        ? 'running'
        : o.class === 'unreachable'
          ? `outcome unknown (${o.status}); kept`
          : holdsRunningStep(tree, running)
            ? 'a step is still running in it'
            : undefined;
    const cls = o.class === 'unreachable' ? 'failed' : o.class;
    facts.push({
      ref: { ...tree, status: o.status },
      workflowId: tree.workflowId,
      bytes: tree.bytes,
      class: cls,
      endedAtMs: o.endedAtMs,
      protectedBy,
    });
  }
  return facts;
}

/** Deletes the trees the plan removes (a dry run only lists them); returns those really gone. */
async function removeTrees(
  ctx: Context,
  decisions: Decision<Tree>[],
  where: { procDir: string; runsDir: string; artifacts?: ArtifactStore },
  dryRun: boolean,
  beat: Beat,
  warnings: string[],
) {
  const { procDir, runsDir, artifacts } = where;
  const removed: Decision<Tree>[] = [];
  for (const d of decisions.filter((x) => x.remove)) {
    beat('removing', { removed: removed.length });
    if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
    if (dryRun) {
      removed.push(d);
      continue;
    }
    // Checked again right before deleting: a step may have started since the scan.
    if (holdsRunningStep(d.facts.ref, await runningWorkspaces(procDir))) {
      Object.assign(d, { remove: false, reason: 'a step started in it during the cleanup' });
      continue;
    }
    // One rm of a large tree can outlast the heartbeat timeout; it is progressing, not hung.
    const during = setInterval(() => beat('removing', { removing: d.facts.ref.paths[0] }), 10_000);
    try {
      // The store's copies of the run's outputs first: a crash in between leaves files, not dangling references.
      if (artifacts) await deleteRunArtifacts(artifacts, runsDir, d.facts.ref.paths);
      for (const p of d.facts.ref.paths) await rm(p, { recursive: true, force: true });
      removed.push(d);
      await rmdir(path.dirname(d.facts.ref.paths[0]!)).catch(() => undefined); // the workflow dir, once empty
    } catch (err) {
      Object.assign(d, { remove: false, reason: `could not remove: ${(err as Error).message}` });
      warnings.push(`${d.facts.ref.paths.join(', ')}: ${(err as Error).message}`);
    } finally {
      clearInterval(during);
    }
  }
  return removed;
}

const row = (d: Decision<Tree>): RunReport => ({
  workflowId: d.facts.workflowId,
  runId: d.facts.ref.runId,
  bytes: d.facts.bytes,
  class: d.facts.class,
  status: d.facts.ref.status,
  reason: d.reason,
});

const sum = (ds: Decision<Tree>[]) => ds.reduce((s, d) => s + d.facts.bytes, 0);

export function createHygieneActivities(deps: ActivityDeps) {
  return {
    async cleanWorkspaces(input: WorkspaceCleanupInput): Promise<WorkspaceCleanupReport> {
      const parsed = retentionPolicySchema.safeParse(input.policy ?? {});
      if (!parsed.success)
        throw ApplicationFailure.nonRetryable(`invalid policy: ${describeIssues(parsed.error, 'policy')}`, 'InvalidInput');
      const ctx = Context.current();
      const { beat, tick } = heartbeater(ctx);
      const runsDir = path.resolve(deps.runsDir);
      const trees = await scanRuns(runsDir, tick);
      const facts = await gatherFacts(deps.temporalClient ?? ctx.client, trees, deps.procDir, !input.dryRun, beat);
      const decisions = planCleanup(facts, parsed.data, Date.now());
      const warnings: string[] = [];
      const removed = await removeTrees(
        ctx,
        decisions,
        { procDir: deps.procDir, runsDir, artifacts: deps.artifacts },
        input.dryRun,
        beat,
        warnings,
      );
      const kept = decisions.filter((d) => !d.remove);
      const disk = await diskState(runsDir, deps.diskFloor);
      const report: WorkspaceCleanupReport = {
        dryRun: input.dryRun,
        runsDir,
        scannedRuns: decisions.length,
        removedRuns: removed.length,
        freedBytes: sum(removed),
        keptRuns: kept.length,
        keptBytes: sum(kept),
        removed: removed.slice(0, REPORT_LIST_CAP).map(row),
        kept: kept.slice(0, REPORT_LIST_CAP).map(row),
        omitted: { removed: Math.max(0, removed.length - REPORT_LIST_CAP), kept: Math.max(0, kept.length - REPORT_LIST_CAP) },
        disk: { freeBytes: disk.freeBytes, floorBytes: disk.floorBytes, underFloor: disk.underFloor },
        warnings,
      };
      const { removedRuns, freedBytes, keptRuns, keptBytes } = report;
      deps.logger.info({ dryRun: input.dryRun, removedRuns, freedBytes, keptRuns, keptBytes }, 'workspace cleanup');
      return report;
    },
  };
}
