import type { Command } from 'commander';
import { cleanWorkspacesNow } from '../../client/workspaces.js';
import { loadEnv } from '../../config/env.js';
import { EXIT } from '../../shared/exit-codes.js';
import { type RunReport, type WorkspaceCleanupReport } from '../../shared/hygiene/schemas.js';
import { connected, emit } from '../cli-context.js';
import { formatBytes } from '../../shared/bytes.js';

// `shepherd workspaces clean [--dry-run] [--json]`: the scheduled workspace cleanup, now, with
// the retention policy of this environment (SHEPHERD_WORKSPACE_*; README "Disk hygiene").

const runLine = (r: RunReport) => `  ${r.workflowId} ${r.runId ?? '(no run id)'}: ${formatBytes(r.bytes)}, ${r.status}: ${r.reason}`;

export function reportLines(r: WorkspaceCleanupReport): string[] {
  const verb = r.dryRun ? 'would remove' : 'removed';
  return [
    `${r.runsDir}: ${verb} ${r.removedRuns} run(s), ${r.dryRun ? 'would free' : 'freed'} ${formatBytes(r.freedBytes)}; kept ${r.keptRuns} run(s), ${formatBytes(r.keptBytes)}`,
    ...(r.removed.length ? [`${verb}:`, ...r.removed.map(runLine)] : []),
    ...(r.omitted.removed ? [`  ... and ${r.omitted.removed} more`] : []),
    ...(r.kept.length ? ['kept:', ...r.kept.map(runLine)] : []),
    ...(r.omitted.kept ? [`  ... and ${r.omitted.kept} more`] : []),
    `disk: ${formatBytes(r.disk.freeBytes)} free, floor ${formatBytes(r.disk.floorBytes)}${r.disk.underFloor ? ' - UNDER THE FLOOR: new steps wait until space frees' : ''}`,
    ...r.warnings.map((w) => `warning: ${w}`),
  ];
}

export function registerWorkspaceCommands(program: Command): void {
  const group = program.command('workspaces').description('step workspaces under the runs dir: clean');
  group
    .command('clean')
    .description('remove workspaces the retention policy no longer keeps (what the cleanup Schedule does), and report')
    .option('--dry-run', 'report what would be removed; remove nothing')
    .option('--json', 'machine-readable output')
    .action(async (o: { dryRun?: boolean; json?: boolean }, c: Command) => {
      const policy = loadEnv().hygiene.retention;
      process.exitCode = await connected(c, async (client, g) => {
        const report = await cleanWorkspacesNow(client, { dryRun: Boolean(o.dryRun), policy }, { taskQueue: g.taskQueue });
        emit(Boolean(o.json), report, reportLines(report));
        return EXIT.ok;
      });
    });
}
