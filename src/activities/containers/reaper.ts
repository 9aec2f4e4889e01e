import os from 'node:os';
import type Docker from 'dockerode';
import type { Logger } from '../../config/logger.js';
import { readStat } from '../step/proc-stats.js';
import { OWNER_HOST_LABEL, OWNER_LABEL, OWNER_PID_LABEL, OWNER_START_LABEL, ownerFilter, workerIdentity } from './labels.js';

// Start-up reaping, as Testcontainers' Ryuk does by label: containers whose owning worker is
// provably dead (same host, and that pid is gone or now belongs to a process started later) are
// removed, then Shepherd networks nobody uses. Live owners' containers, and other hosts' (we
// cannot tell whether they live), are left alone.

function ownerAlive(pid: number, startTime: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
}

export interface ContainerReapReport {
  removed: string[];
  kept: number;
  networksRemoved: string[];
}

export function ownerIsDead(labels: Record<string, string>, host = os.hostname()): boolean {
  if (labels[OWNER_HOST_LABEL] !== host) return false;
  const pid = Number(labels[OWNER_PID_LABEL]);
  const start = Number(labels[OWNER_START_LABEL]);
  if (!Number.isInteger(pid) || !Number.isInteger(start)) return false;
  return !ownerAlive(pid, start);
}

export async function reapDeadWorkersContainers(docker: Docker, logger: Logger): Promise<ContainerReapReport> {
  const me = workerIdentity().id;
  const report: ContainerReapReport = { removed: [], kept: 0, networksRemoved: [] };
  const containers = await docker.listContainers({ all: true, filters: ownerFilter() });
  for (const c of containers) {
    if (c.Labels[OWNER_LABEL] === me || !ownerIsDead(c.Labels)) {
      report.kept++;
      continue;
    }
    try {
      await docker.getContainer(c.Id).remove({ force: true, v: true });
      report.removed.push(c.Id);
      logger.warn(
        { container: c.Names?.[0] ?? c.Id, owner: c.Labels[OWNER_LABEL], labels: c.Labels },
        'removed a container left by a dead worker',
      );
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404)
        logger.warn({ err, container: c.Id }, 'could not remove an orphaned container');
    }
  }
  const networks = await docker.listNetworks({ filters: ownerFilter() }).catch(() => []);
  for (const n of networks) {
    if (!ownerIsDead(n.Labels ?? {})) continue;
    const users = await docker.listContainers({ all: true, filters: { network: [n.Name] } }).catch(() => [{}]);
    if (users.length > 0) continue;
    await docker
      .getNetwork(n.Name)
      .remove()
      .then(() => report.networksRemoved.push(n.Name))
      .catch(() => undefined);
  }
  if (report.removed.length + report.networksRemoved.length > 0) logger.info(report, 'reaped containers of dead workers');
  return report;
}
