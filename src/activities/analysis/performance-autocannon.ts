import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AppAddress } from '../../shared/containers.js';
import type { AnalyzerResult } from './analyzer-result.js';
import type { Finding } from './findings.js';
import { runTool, type AnalyzerEnv } from './step.js';
import { findAutocannon, requireTool } from './tools.js';

// Performance: autocannon against each configured path of the running app. Latency and rate are
// metrics; errors, non-2xx answers under load and a p99 over budget are findings. A run in which
// not one request was answered measured nothing and is `failed`.

export interface PerformanceConfig {
  paths?: string[];
  durationSeconds?: number;
  connections?: number;
  p99BudgetMs?: number;
}

export interface AutocannonReport {
  url: string;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  latency: { p50: number; p99: number; max: number };
  requests: { average: number; total: number; sent: number };
}

function pathFindings(p: string, r: AutocannonReport, budgetMs: number): Finding[] {
  const findings: Finding[] = [];
  const answered = r['2xx'] + r.non2xx;
  if (r.non2xx > 0) {
    findings.push({
      rule: 'perf/non-2xx-under-load',
      severity: 'medium',
      location: p,
      message: `${r.non2xx} of ${answered} answers under load were not 2xx`,
    });
  }
  if (r.errors + r.timeouts > 0) {
    findings.push({
      rule: 'perf/errors-under-load',
      severity: 'high',
      location: p,
      message: `${r.errors} connection errors and ${r.timeouts} timeouts out of ${r.requests.sent} requests sent`,
    });
  }
  if (r.latency.p99 > budgetMs) {
    findings.push({
      rule: 'perf/p99-over-budget',
      severity: 'low',
      location: p,
      message: `p99 latency ${r.latency.p99} ms is over the ${budgetMs} ms budget (p50 ${r.latency.p50} ms)`,
    });
  }
  return findings;
}

export async function runPerformanceAnalyzer(env: AnalyzerEnv, address: AppAddress, config: PerformanceConfig): Promise<AnalyzerResult> {
  const cannon = requireTool(findAutocannon());
  const tool = { name: 'autocannon', version: cannon.version };
  const paths = config.paths ?? ['/'];
  const budget = config.p99BudgetMs ?? 1000;
  const findings: Finding[] = [];
  const totals = { requests: 0, answered: 0, errors: 0, non2xx: 0, p50Ms: 0, p99Ms: 0, rps: 0 };
  for (const [i, p] of paths.entries()) {
    const url = `http://${address.host.host}:${address.host.port}${p}`;
    const cwd = path.join(env.workspace, `autocannon-${i}`);
    await runTool(
      env,
      `autocannon ${p}`,
      {
        command: process.execPath,
        args: [
          cannon.bin,
          '--json',
          '--connections',
          String(config.connections ?? 10),
          '--duration',
          String(config.durationSeconds ?? 3),
          '--timeout',
          '10',
          '--no-progress',
          url,
        ],
        graceMs: 2000,
        resultRequired: false,
      },
      { cwd },
    );
    const report = JSON.parse(await readFile(path.join(cwd, 'stdout.log'), 'utf8')) as AutocannonReport;
    const answered = report['2xx'] + report.non2xx;
    if (answered === 0) {
      return {
        status: 'failed',
        reason: `nothing measured: no request to ${url} was answered (${report.errors} connection errors, ${report.timeouts} timeouts)`,
        findings: [],
        metrics: { requests: report.requests.sent, answered: 0, errors: report.errors },
        tool,
      };
    }
    findings.push(...pathFindings(p, report, budget));
    totals.requests += report.requests.sent;
    totals.answered += answered;
    totals.errors += report.errors + report.timeouts;
    totals.non2xx += report.non2xx;
    totals.p50Ms = Math.max(totals.p50Ms, report.latency.p50);
    totals.p99Ms = Math.max(totals.p99Ms, report.latency.p99);
    totals.rps += report.requests.average;
  }
  return { status: 'completed', findings, metrics: { ...totals, rps: Math.round(totals.rps / paths.length) }, tool };
}
