import { readFileSync } from 'node:fs';

// CPU time spent by the Temporal server process and by this (bench) process, which hosts every
// worker, the model server and the client. On a 2-core machine a step's latency follows its CPU,
// so per-step CPU tells where a step's cost lies when the latencies alone cannot.

export interface CpuMark {
  serverMs: number;
  selfMs: number;
}

// USER_HZ is 100 on every Linux the project runs on: /proc/<pid>/stat counts 10 ms ticks.
const TICK_MS = 10;

/** User + system CPU a live process has used so far. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is [0], utime [11], stime [12].
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

export function cpuMark(serverPid: number | undefined): CpuMark {
  const self = process.cpuUsage();
  return { serverMs: serverPid === undefined ? NaN : processCpuMs(serverPid), selfMs: (self.user + self.system) / 1000 };
}

/** No CPU: the start of a sum of spans. */
export const NO_CPU: CpuMark = { serverMs: 0, selfMs: 0 };

/** The CPU between two marks, as a mark from zero (spans measured apart add up with addCpu). */
export function cpuSpan(from: CpuMark, to: CpuMark): CpuMark {
  return { serverMs: to.serverMs - from.serverMs, selfMs: to.selfMs - from.selfMs };
}

export function addCpu(a: CpuMark, b: CpuMark): CpuMark {
  return { serverMs: a.serverMs + b.serverMs, selfMs: a.selfMs + b.selfMs };
}

/** "server / bench process" CPU per step between two marks. */
export function cpuPerStep(from: CpuMark, to: CpuMark, steps: number): string {
  const per = (a: number, b: number) => ((b - a) / steps).toFixed(1);
  return `${per(from.serverMs, to.serverMs)} / ${per(from.selfMs, to.selfMs)} ms`;
}

/** CPU time the whole machine spent busy (every core, user + system + interrupts), from /proc/stat. */
export function machineBusyMs(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'latin1')
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) * TICK_MS;
}
