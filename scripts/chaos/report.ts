import type { FaultLog } from './scheduler.js';
import type { InputOutcome } from './checks.js';

export interface PipelineCount {
  started: number;
  completed: number;
  failed: number;
  /** Workflow IDs not closed by the end of the bounded drain. */
  lost: string[];
}

export interface ChaosReport {
  seconds: number;
  pipelines: Record<string, PipelineCount>;
  /** Pipeline kinds not run, with the reason. */
  skipped: Record<string, string>;
  faults: FaultLog;
  duplicates: Record<string, string[]>;
  strayProcesses: number[];
  strayContainers: string[];
  /** False when no container runtime answered, so containers were not scanned. */
  containerScan: boolean;
  inputs: { total: number; ok: number; bad: InputOutcome[] };
  workflowTaskFailures: Record<string, string[]>;
  /** Why the run did not pass; empty means it passed. */
  reasons: string[];
}

export function passLine(r: ChaosReport): string[] {
  const reasons: string[] = [];
  const lost = Object.values(r.pipelines).flatMap((c) => c.lost);
  if (lost.length) reasons.push(`${lost.length} pipelines lost: ${lost.join(', ')}`);
  for (const [table, keys] of Object.entries(r.duplicates))
    if (keys.length) reasons.push(`${keys.length} duplicate keys in ${table}: ${keys.slice(0, 5).join(', ')}`);
  if (r.strayProcesses.length) reasons.push(`stray processes: ${r.strayProcesses.join(', ')}`);
  if (r.strayContainers.length) reasons.push(`stray containers: ${r.strayContainers.join(', ')}`);
  if (r.inputs.bad.length) reasons.push(`${r.inputs.bad.length} malformed inputs did not fail fast naming their field`);
  const loops = Object.keys(r.workflowTaskFailures);
  if (loops.length) reasons.push(`workflow-task failures in ${loops.join(', ')}`);
  if (r.faults.errors.length) reasons.push(`fault injection errors: ${r.faults.errors.join('; ')}`);
  return reasons;
}

export function formatReport(r: ChaosReport): string {
  const lines = [`Shepherd chaos report (${r.seconds} s)`, '', 'pipeline            started completed failed lost'];
  for (const [kind, c] of Object.entries(r.pipelines))
    lines.push(
      `${kind.padEnd(20)}${String(c.started).padStart(7)}${String(c.completed).padStart(10)}${String(c.failed).padStart(7)}${String(c.lost.length).padStart(5)}`,
    );
  for (const [kind, why] of Object.entries(r.skipped)) lines.push(`${kind.padEnd(20)} skipped: ${why}`);
  lines.push('', `faults: ${r.faults.kills} worker SIGKILLs, ${r.faults.serverRestarts} server restarts`);
  lines.push(
    `duplicate rows per logical key: ${Object.entries(r.duplicates)
      .map(([t, k]) => `${t} ${k.length}`)
      .join(', ')}`,
  );
  lines.push(
    `stray processes: ${r.strayProcesses.length}   stray containers: ${r.containerScan ? r.strayContainers.length : 'not scanned (no container runtime at DOCKER_HOST)'}`,
  );
  lines.push(`malformed inputs failed fast naming the field: ${r.inputs.ok}/${r.inputs.total}`);
  for (const b of r.inputs.bad.slice(0, 20)) lines.push(`  ${b.type} ${JSON.stringify(b.input).slice(0, 400)}: ${b.problem}`);
  lines.push(`workflow-task failures: ${Object.keys(r.workflowTaskFailures).length}`);
  lines.push(
    '',
    r.reasons.length ? `FAIL: ${r.reasons.join('; ')}` : 'PASS: zero lost, zero duplicates, zero strays, zero workflow-task loops',
  );
  return lines.join('\n');
}
