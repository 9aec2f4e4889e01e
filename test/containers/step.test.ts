import { readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureNodeImage } from '../../src/activities/containers/images.js';
import { WORKFLOW_LABEL } from '../../src/activities/containers/labels.js';
import type { ContainerFailureDetails } from '../../src/activities/containers/failure.js';
import {
  containersLabelled,
  ensureTestContainers,
  startContainerWorker,
  testDocker,
  waitFor,
  type ContainerTestWorker,
} from './support.js';

// runContainerStep against a real runtime: output captured into the workspace, failures
// classified like runCommand's (exit code, OOMKilled at a memory limit, deadline), and no
// container left by exit, failure, start-to-close timeout or cancellation.

let w: ContainerTestWorker;
let image: string;

beforeAll(async () => {
  await ensureTestContainers();
  image = (await ensureNodeImage(testDocker())).image;
  w = await startContainerWorker();
});
afterAll(async () => {
  await w?.stop();
});

async function runStep(step: Record<string, unknown>, opts: { startToCloseTimeout?: string } = {}) {
  const workflowId = `step-${randomUUID()}`;
  const handle = await w.client.workflow.start('containerStepProbe', {
    taskQueue: w.taskQueue,
    workflowId,
    args: [{ step: { image, timeout: '2m', ...step }, ...opts }],
  });
  return { handle, workflowId };
}

describe('runContainerStep', () => {
  it('runs to completion, with its output in the workspace and the container removed', async () => {
    const { handle, workflowId } = await runStep({
      cmd: ['sh', '-c', 'echo out-line; echo err-line >&2; echo "$GREETING"'],
      env: { GREETING: 'hi there' },
    });
    const end = await handle.result();
    expect(end.failure).toBeUndefined();
    const result = end.result as { exitCode: number; logTail: string[]; workspace: string };
    expect(result.exitCode).toBe(0);
    expect(result.logTail).toEqual(expect.arrayContaining(['out-line', 'err-line', 'hi there']));
    expect(readFileSync(path.join(result.workspace, 'stdout.log'), 'utf8')).toBe('out-line\nhi there\n');
    expect(readFileSync(path.join(result.workspace, 'stderr.log'), 'utf8')).toBe('err-line\n');
    expect(await containersLabelled(WORKFLOW_LABEL, workflowId)).toEqual([]);
  });

  it('a failing command fails CommandFailed with its exit code and output tail', async () => {
    const { handle, workflowId } = await runStep({ cmd: ['sh', '-c', 'echo about to fail >&2; exit 7'], nonRetryableExitCodes: [7] });
    const end = await handle.result();
    expect(end.failure?.type).toBe('CommandFailed');
    expect(end.failure?.message).toContain('exited with code 7');
    expect(end.failure?.message).toContain('about to fail');
    const details = end.failure?.details as ContainerFailureDetails;
    expect(details).toMatchObject({ exitCode: 7, oomKilled: false, possibleOomKill: false, timedOut: false, attempt: 1 });
    expect(await containersLabelled(WORKFLOW_LABEL, workflowId)).toEqual([]);
  });

  it('a container killed for its memory limit is reported as OOM (exit 137 + OOMKilled)', async () => {
    // One allocation well past the limit. A hog growing in small steps can thrash instead of being
    // killed: on cgroup v1 the node binary's page cache, when this container is the first to read
    // it, is charged to its 64 MiB and reclaimed and re-read between allocations (seen under
    // dockerd: 12-24 s with a cold cache instead of 0.4 s, and past the test's timeout in CI).
    const hog = "console.log('allocating 256 MiB'); const b = Buffer.alloc(256 * 1024 * 1024, 1); console.log('allocated', b.length);";
    const { handle, workflowId } = await runStep({ cmd: ['node', '-e', hog], limits: { memoryMb: 64 } });
    const end = await handle.result();
    expect(end.failure?.type).toBe('CommandFailed');
    const details = end.failure?.details as ContainerFailureDetails;
    expect(details).toMatchObject({ exitCode: 137, oomKilled: true, possibleOomKill: true, memoryLimitBytes: 64 * 1024 * 1024 });
    // podman 4.3 + runc on cgroup v1 never sets State.OOMKilled; Docker does. Either way it is an OOM kill.
    expect(end.failure?.message).toMatch(/out-of-memory kill(: the runtime reports OOMKilled)? at the 64\.0 MiB limit/);
    expect(await containersLabelled(WORKFLOW_LABEL, workflowId)).toEqual([]);
  });

  it("the activity's start-to-close timeout stops and removes the container (StepTimedOut)", async () => {
    const { handle, workflowId } = await runStep({ cmd: ['sleep', '300'] }, { startToCloseTimeout: '20s' });
    await waitFor('the step container to run', async () => (await containersLabelled(WORKFLOW_LABEL, workflowId)).length === 1);
    const end = await handle.result();
    expect(end.failure?.type).toBe('StepTimedOut');
    expect(end.failure?.message).toContain('was stopped at its deadline');
    expect(await containersLabelled(WORKFLOW_LABEL, workflowId)).toEqual([]);
  });

  it("the step's own timeout stops it the same way", async () => {
    const { handle, workflowId } = await runStep({ cmd: ['sleep', '300'], timeout: '3s' });
    const end = await handle.result();
    expect(end.failure?.type).toBe('StepTimedOut');
    expect(await containersLabelled(WORKFLOW_LABEL, workflowId)).toEqual([]);
  });

  it('cancellation stops and removes the container', async () => {
    const { handle, workflowId } = await runStep({ cmd: ['sleep', '300'] });
    await waitFor('the step container to run', async () => (await containersLabelled(WORKFLOW_LABEL, workflowId)).length === 1);
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
    expect(await containersLabelled(WORKFLOW_LABEL, workflowId)).toEqual([]);
  });

  it('bad input fails non-retryably naming the field; a missing image says so', async () => {
    const bad = await (await runStep({ cmd: [], limits: { memoryMb: 1 } })).handle.result();
    expect(bad.failure?.type).toBe('InvalidContainerSpec');
    expect(bad.failure?.message).toContain('input.cmd');
    expect(bad.failure?.message).toContain('input.limits.memoryMb');
    const missing = await (await runStep({ image: 'localhost/shepherd-no-such-image:0', cmd: ['true'] })).handle.result();
    expect(missing.failure?.type).toBe('ImageNotFound');
  });
});
