// Workflow IDs of the analysis pipeline (DESIGN.md names). Pipeline ids and app names contain no
// "-" (see input.ts), so distinct (pipeline, model, app) triples never share an ID.

export function analysisPipelineWorkflowId(pipelineId: string): string {
  return `analysis-pipeline-${pipelineId}`;
}

export function appAnalysisWorkflowId(pipelineId: string, model: string, app: string): string {
  return `analysis-${pipelineId}-${model}-${app}`;
}

/** The key that makes a target unique within a pipeline (same as the DB unique key). */
export function targetKey(t: { model: string; app: string }): string {
  return `${t.model}:${t.app}`;
}
