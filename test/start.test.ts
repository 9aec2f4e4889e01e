import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { freePort } from '../scripts/lib/free-port.js';
import { tempDir } from './support/harness.js';
import { markedProcesses, waitFor } from './support/procs.js';

// `npm start` as a new user runs it (scripts/start.ts, no DATABASE_URL: the embedded database):
// the example batch finishes with its table, Ctrl-C stops everything and leaves no process, and a
// second start comes back on the same state.

interface Started {
  output: () => string;
  address: string;
  interrupt(): Promise<{ exitCode?: number }>;
}

async function npmStart(dataDir: string, marker: string): Promise<Started> {
  const [port, uiPort] = [await freePort(), await freePort()];
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(DATABASE_URL|TEMPORAL_|SHEPHERD_)/.test(k)) env[k] = v;
  Object.assign(env, {
    SHEPHERD_DATA_DIR: dataDir,
    SHEPHERD_TEMPORAL_PORT: String(port),
    SHEPHERD_UI_PORT: String(uiPort),
    SHEPHERD_TEST_MARKER: marker,
  });
  const child = execa(process.execPath, ['--import', 'tsx', path.resolve('scripts/start.ts')], {
    env,
    extendEnv: false,
    reject: false,
    buffer: false,
    stdin: 'ignore',
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  let exited = false;
  void child.then(() => (exited = true));
  await waitFor(() => out.includes('Press Ctrl-C') || exited, 'npm start to finish the example batch', 180_000);
  expect(exited, out).toBe(false);
  return {
    output: () => out,
    address: `127.0.0.1:${port}`,
    async interrupt() {
      child.kill('SIGINT');
      return child;
    },
  };
}

describe('npm start', () => {
  it(
    'runs the example batch on the embedded stack; Ctrl-C leaves no process behind; a second start reuses the state',
    { timeout: 400_000 },
    async () => {
      const dataDir = tempDir('npm-start');
      const marker = randomUUID();

      const first = await npmStart(dataDir, marker);
      expect(first.output()).toMatch(/Temporal Web UI: http:\/\/\S+/);
      expect(first.output()).toContain('embedded PostgreSQL (PGlite)');
      expect(first.output()).toMatch(/Batch iris-baseline: completed \(6 succeeded, 0 failed\)/);
      expect(first.output()).toMatch(/knn-k5\s.*\b(1|0\.\d+)/);
      expect(markedProcesses('SHEPHERD_TEST_MARKER', marker).length).toBeGreaterThan(0);
      const end = await first.interrupt();
      expect(end.exitCode, first.output()).toBe(0);
      expect(first.output()).toContain('Stopped.');
      // The dev server, the worker and everything they started are gone.
      await waitFor(() => markedProcesses('SHEPHERD_TEST_MARKER', marker).length === 0, 'no process left after Ctrl-C', 15_000);

      const second = await npmStart(dataDir, marker);
      try {
        const connection = await Connection.connect({ address: second.address });
        try {
          const runs = [];
          for await (const r of new Client({ connection }).workflow.list({ query: `WorkflowId = 'experiment-batch-iris-baseline'` }))
            runs.push(r.status.name);
          // The first start's run is still there: same SQLite state, not a fresh server.
          expect(runs).toEqual(['COMPLETED', 'COMPLETED']);
        } finally {
          await connection.close();
        }
      } finally {
        expect((await second.interrupt()).exitCode, second.output()).toBe(0);
      }
      await waitFor(() => markedProcesses('SHEPHERD_TEST_MARKER', marker).length === 0, 'no process left after the second Ctrl-C', 15_000);
    },
  );
});
