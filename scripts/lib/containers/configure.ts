import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// podman's system containers.conf for this machine kind. Each line fixes a failure seen here:
// - runtime runc: crun refuses the hybrid cgroup v1/v2 layout;
// - cgroupfs + file events: there is no systemd to delegate cgroups to or journal events into;
// - default_ulimits at or below the current hard limits: the root shell lacks CAP_SYS_RESOURCE,
//   so podman's defaults fail with "setrlimit RLIMIT_NOFILE: Operation not permitted".

export const SYSTEM_CONTAINERS_CONF = '/etc/containers/containers.conf';
const MARKER = '# Written by Shepherd (scripts/lib/containers/configure.ts)';

/** Hard limits of this process, from /proc/self/limits ("unlimited" as Infinity). */
export function hardLimits(limitsText = readFileSync('/proc/self/limits', 'utf8')): { nofile: number; nproc: number } {
  const hard = (label: string) => {
    const line = limitsText.split('\n').find((l) => l.startsWith(label));
    const value = line?.slice(label.length).trim().split(/\s+/)[1];
    return value === undefined || value === 'unlimited' ? Infinity : Number(value);
  };
  return { nofile: hard('Max open files'), nproc: hard('Max processes') };
}

export function containersConf(limits = hardLimits()): string {
  const nofile = Math.min(limits.nofile, 1_048_576);
  const nproc = Math.min(limits.nproc, 32_768);
  return [
    MARKER,
    '[containers]',
    `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
    '',
    '[engine]',
    'runtime = "runc"',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    '',
  ].join('\n');
}

/**
 * Writes the system containers.conf when it is absent or Shepherd's own. Someone else's file
 * is left alone: then ours goes to `fallbackFile` and the caller passes it as CONTAINERS_CONF to
 * the API service only.
 */
export function configurePodman(fallbackFile: string, log: (m: string) => void): { file: string; env: Record<string, string> } {
  const wanted = containersConf();
  const current = existsSync(SYSTEM_CONTAINERS_CONF) ? readFileSync(SYSTEM_CONTAINERS_CONF, 'utf8') : undefined;
  if (current === undefined || current.startsWith(MARKER)) {
    if (current !== wanted) {
      mkdirSync(path.dirname(SYSTEM_CONTAINERS_CONF), { recursive: true });
      writeFileSync(SYSTEM_CONTAINERS_CONF, wanted);
      log(`wrote ${SYSTEM_CONTAINERS_CONF} (runc, cgroupfs, file events, ulimits within the hard limits)`);
    }
    return { file: SYSTEM_CONTAINERS_CONF, env: {} };
  }
  mkdirSync(path.dirname(fallbackFile), { recursive: true });
  writeFileSync(fallbackFile, wanted);
  log(`${SYSTEM_CONTAINERS_CONF} is not Shepherd's; the API service uses ${fallbackFile} instead (CONTAINERS_CONF)`);
  return { file: fallbackFile, env: { CONTAINERS_CONF: fallbackFile } };
}
