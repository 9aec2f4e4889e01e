import { rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
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

export function createHygieneActivities(deps: ActivityDeps) {
  return {
    async cleanWorkspaces(input: WorkspaceCleanupInput): Promise<WorkspaceCleanupReport> {
      const parsed = retentionPolicySchema.safeParse(input.policy ?? {});
      if (!parsed.success)
        throw ApplicationFailure.nonRetryable(`invalid policy: ${describeIssues(parsed.error, 'policy')}`, 'InvalidInput');
      const ctx = Context.current();
      const client = deps.temporalClient ?? ctx.client;
      const runsDir = path.resolve(deps.runsDir);
      let walked = 0;
      let lastBeat = 0;
      const beat = (phase: string, extra: Record<string, unknown> = {}) => {
        const now = Date.now();
        if (now - lastBeat < 1000 && Object.keys(extra).length === 0) return;
        lastBeat = now;
        ctx.heartbeat({ phase, entriesWalked: walked, ...extra });
      };
      const tick = () => {
        walked++;
        if (walked % 500 === 0) beat('scanning');
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      };

      const trees = await scanRuns(runsDir, tick);
      const running = await runningWorkspaces(deps.procDir);
      const facts: RunFacts<RunTree & { status: string }>[] = [];
      for (const tree of trees) {
        beat('asking Temporal how runs ended');
        const o = await outcomeOf(client, tree, !input.dryRun);
        const protectedBy =
          o.class === 'running'
            ? 'running'
            : o.class === 'unreachable'
              ? `outcome unknown (${o.status}); kept`
              : holdsRunningStep(tree, running)
                ? 'a step is still running in it'
                : undefined;
        facts.push({
          ref: { ...tree, status: o.status },
          workflowId: tree.workflowId,
          bytes: tree.bytes,
          class: o.class === 'unreachable' ? 'failed' : o.class,
          endedAtMs: o.endedAtMs,
          protectedBy,
        });
      }
      const decisions = planCleanup(facts, parsed.data, Date.now());

      const warnings: string[] = [];
      const removed: Decision<RunTree & { status: string }>[] = [];
      for (const d of decisions.filter((x) => x.remove)) {
        beat('removing', { removed: removed.length });
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
        if (input.dryRun) {
          removed.push(d);
          continue;
        }
        // Checked again right before deleting: a step may have started since the scan.
        if (holdsRunningStep(d.facts.ref, await runningWorkspaces(deps.procDir))) {
          Object.assign(d, { remove: false, reason: 'a step started in it during the cleanup' });
          continue;
        }
        try {
          for (const p of d.facts.ref.paths) await rm(p, { recursive: true, force: true });
          removed.push(d);
          await rmdir(path.dirname(d.facts.ref.paths[0]!)).catch(() => undefined); // the workflow dir, once empty
        } catch (err) {
          Object.assign(d, { remove: false, reason: `could not remove: ${(err as Error).message}` });
          warnings.push(`${d.facts.ref.paths.join(', ')}: ${(err as Error).message}`);
        }
      }
      const kept = decisions.filter((d) => !d.remove);
      const row = (d: Decision<RunTree & { status: string }>): RunReport => ({
        workflowId: d.facts.workflowId,
        runId: d.facts.ref.runId,
        bytes: d.facts.bytes,
        class: d.facts.class,
        status: d.facts.ref.status,
        reason: d.reason,
      });
      const disk = await diskState(runsDir, deps.diskFloor);
      const report: WorkspaceCleanupReport = {
        dryRun: input.dryRun,
        runsDir,
        scannedRuns: decisions.length,
        removedRuns: removed.length,
        freedBytes: removed.reduce((s, d) => s + d.facts.bytes, 0),
        keptRuns: kept.length,
        keptBytes: kept.reduce((s, d) => s + d.facts.bytes, 0),
        removed: removed.slice(0, REPORT_LIST_CAP).map(row),
        kept: kept.slice(0, REPORT_LIST_CAP).map(row),
        omitted: { removed: Math.max(0, removed.length - REPORT_LIST_CAP), kept: Math.max(0, kept.length - REPORT_LIST_CAP) },
        disk: { freeBytes: disk.freeBytes, floorBytes: disk.floorBytes, underFloor: disk.underFloor },
        warnings,
      };
      deps.logger.info(
        {
          dryRun: report.dryRun,
          removedRuns: report.removedRuns,
          freedBytes: report.freedBytes,
          keptRuns: report.keptRuns,
          keptBytes: report.keptBytes,
        },
        'workspace cleanup',
      );
      return report;
    },
  };
}
