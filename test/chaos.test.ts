import { describe, expect, it } from 'vitest';
import { runChaos } from '../scripts/chaos/engine.js';
import { DEFAULTS } from '../scripts/chaos/options.js';
import { formatReport } from '../scripts/chaos/report.js';

// The chaos engine of `npm run chaos`, small: a handful of real pipelines while a worker process
// is SIGKILLed and the Temporal server restarted, plus generated malformed inputs for every
// workflow type. The pass line is measured (histories, result tables, /proc), not assumed.
describe('chaos (short)', () => {
  it('loses no pipeline, writes no duplicate, leaves no stray and no workflow-task loop', { timeout: 600_000 }, async () => {
    const report = await runChaos({
      ...DEFAULTS,
      minutes: 1,
      pipelines: 10,
      inputs: 25,
      workers: 2,
      killEveryMs: 12_000,
      maxKills: 1,
      restartServer: true,
      drainMs: 120_000,
      log: () => undefined,
    });
    const text = formatReport(report);
    expect(report.faults.kills, text).toBe(1);
    expect(report.faults.serverRestarts, text).toBe(1);
    expect(
      Object.values(report.pipelines).reduce((n, c) => n + c.started, 0),
      text,
    ).toBe(10);
    expect(report.inputs.total, text).toBeGreaterThanOrEqual(25 * 8);
    // Every kind of the mix ran to completion, streamed model calls and app containers included.
    expect(report.skipped, text).toEqual({});
    for (const kind of ['experimentBatch', 'simulationJob', 'trainingQueue', 'conversationBatch', 'analysisPipeline'])
      expect(report.pipelines[kind]?.completed, `${kind}\n${text}`).toBe(2);
    expect(report.containerScan, text).toBe(true);
    expect(report.reasons, text).toEqual([]);
  });
});
