import { readFileSync } from 'node:fs';
import { defaultPayloadConverter } from '@temporalio/common';
import { coresdk } from '@temporalio/proto';
// The SDK's own workflow creator, as a worker uses it (reuseV8Context, the default); internal path.
import { ReusableVMWorkflowCreator } from '@temporalio/worker/lib/workflow/reusable-vm.js';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import * as workflows from '../src/workflows/index.js';

// Every new workflow, and every replay after a cache eviction, evaluates the bundle's entry and
// what it imports. Each pipeline's modules (mostly zod schemas) must load only for workflows of
// that pipeline: this reads which modules a workflow evaluated from its own module cache.

type Creator = Awaited<ReturnType<typeof ReusableVMWorkflowCreator.create>>;
type Workflow = Awaited<ReturnType<Creator['createWorkflow']>> & { activator: { moduleCache: Map<string, unknown> } };

const PIPELINE_SCHEMAS = [
  'conversations/schemas',
  'experiments/schemas',
  'simulation/schemas',
  'training/schemas',
  'hygiene/schemas',
  'analysis/input',
];
const loaded = (wf: Workflow) =>
  PIPELINE_SCHEMAS.filter((m) => [...wf.activator.moduleCache.keys()].some((k) => k.includes(`src/shared/${m}.`)));

describe('workflow bundle', () => {
  let creator: Creator;
  beforeAll(async () => {
    const code = readFileSync(inject('workflowBundlePath'), 'utf8');
    const sourceMap = { version: 3, sources: [], names: [], mappings: '' };
    creator = await ReusableVMWorkflowCreator.create(
      { code, filename: 'workflow-bundle.js', sourceMap } as never,
      5000,
      new Set(),
      undefined,
    );
  });
  afterAll(() => creator?.destroy());

  const create = async (workflowType: string, runId: string) =>
    (await creator.createWorkflow({
      info: {
        workflowType,
        workflowId: runId,
        runId,
        firstExecutionRunId: runId,
        namespace: 'default',
        taskQueue: 'q',
        attempt: 1,
        historyLength: 3,
        historySize: 0,
        continueAsNewSuggested: false,
        searchAttributes: {},
        typedSearchAttributes: [],
        memo: {},
        startTime: new Date(),
        runStartTime: new Date(),
        unsafe: { isReplaying: false, now: Date.now },
        priority: {},
      },
      randomnessSeed: [1, 2],
      now: Date.now(),
      showStackTraceSources: false,
    } as never)) as Workflow;

  /** The workflow's first activation: the job that starts it, with `input` as its argument. */
  const start = (wf: Workflow, workflowType: string, runId: string, input: unknown) =>
    wf.activate(
      coresdk.workflow_activation.WorkflowActivation.fromObject({
        runId,
        timestamp: { seconds: Math.floor(Date.now() / 1000) },
        jobs: [
          {
            initializeWorkflow: {
              workflowType,
              workflowId: runId,
              arguments: [defaultPayloadConverter.toPayload(input)],
              randomnessSeed: 1,
            },
          },
        ],
      }),
    );

  it("a new workflow evaluates no pipeline's schemas before it starts, and then only its own", async () => {
    const wf = await create('conversationRun', 'run-conversation');
    expect(loaded(wf)).toEqual([]);
    const completion = await start(wf, 'conversationRun', 'run-conversation', { item: { id: 'a' } });
    // The workflow ran through the lazy entry: its own input check refused the missing definition.
    const failed = completion.successful?.commands?.[0]?.failWorkflowExecution?.failure;
    expect(failed?.message).toMatch(/invalid input: .*definition/);
    expect(loaded(wf)).toEqual(['conversations/schemas']);
    await wf.dispose();
  });

  it('every workflow type of the entry starts its own pipeline', async () => {
    const cases: [string, string][] = [
      ['experimentBatch', 'experiments/schemas'],
      ['parameterSweep', 'simulation/schemas'],
      ['trainingQueue', 'training/schemas'],
      ['workspaceCleanup', 'hygiene/schemas'],
      ['appAnalysis', 'analysis/input'],
    ];
    for (const [type, schemas] of cases) {
      const wf = await create(type, `run-${type}`);
      const completion = await start(wf, type, `run-${type}`, { bogus: true });
      expect(completion.successful?.commands?.[0]?.failWorkflowExecution?.failure?.message, type).toMatch(/invalid/i);
      expect(loaded(wf), type).toContain(schemas);
      expect(loaded(wf).length, type).toBeLessThan(PIPELINE_SCHEMAS.length);
      await wf.dispose();
    }
  });

  it('each workflow function is named for its type, which clients that pass the function start', () => {
    for (const [type, fn] of Object.entries(workflows)) expect(fn.name).toBe(type);
  });
});
