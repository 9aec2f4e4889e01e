import type { AnalyzerName, AnalyzerOutcome } from '../../shared/analysis/analyzers.js';
import {
  admitAnalyzer,
  newAnalyzerBreaker,
  newPipelineBreaker,
  recordAnalyzerOutcome,
  recordTargetOutcome,
  resetAnalyzerBreaker,
  resetPipelineBreaker,
  type AnalyzerBreaker,
  type AnalyzerBreakerConfig,
  type PipelineBreaker,
  type TargetStatus,
} from '../../shared/analysis/breakers.js';
import { durationMs } from '../../shared/analysis/duration.js';
import { appAnalysisWorkflowId, targetKey } from '../../shared/analysis/ids.js';
import type { AnalysisPipeline, AnalyzerConfig } from '../../shared/analysis/input.js';
import type { AnalysisProgress, BreakerTarget, TargetProgress } from '../../shared/analysis/results.js';

// The pipeline's in-memory state (targets and breakers) and the transitions the workflow applies;
// kept apart from the workflow function so that reads as the schedule it is.

export class PipelineState {
  readonly targets: TargetProgress[];
  /** Index into input.targets for each unique target (a target listed twice is run once). */
  readonly sourceIndex: number[];
  analyzerBreakers: Map<AnalyzerName, AnalyzerBreaker>;
  pipelineBreaker: PipelineBreaker;
  stage = 'validating';
  /** Bumped on every change the scheduler may wait for (a target ended, a breaker reset). */
  version = 0;
  readonly cfg: AnalyzerBreakerConfig;

  constructor(readonly input: AnalysisPipeline) {
    const seen = new Map<string, number>();
    this.targets = [];
    this.sourceIndex = [];
    input.targets.forEach((t, i) => {
      const key = targetKey(t);
      const first = seen.get(key);
      const base = {
        model: t.model,
        app: t.app,
        workflowId: appAnalysisWorkflowId(input.pipelineId, t.model, t.app),
        analyzers: [],
        findings: 0,
      };
      if (first !== undefined) {
        // Listed twice: reported, never run a second time (seed 003's duplicate task).
        this.duplicates.push({ ...base, status: 'skipped', reason: `duplicate of targets[${first}] (${key}): analysed once` });
        return;
      }
      seen.set(key, i);
      this.targets.push({ ...base, status: 'queued' });
      this.sourceIndex.push(i);
    });
    this.analyzerBreakers = new Map(input.analyzers.map((a) => [a.name, newAnalyzerBreaker(a.name)]));
    this.pipelineBreaker = newPipelineBreaker(input.breakers.pipelineFailureThreshold);
    this.cfg = {
      failureThreshold: input.breakers.analyzerFailureThreshold,
      cooldownTargets: input.breakers.analyzerCooldownTargets,
      cooldownMs: durationMs(input.breakers.analyzerCooldown),
    };
  }

  readonly duplicates: TargetProgress[] = [];

  finishedCount(): number {
    return this.targets.filter((t) => t.finishedAt !== undefined).length;
  }

  /** Which of the target's analyzers run now, and which the analyzer breakers skip (with the reason). */
  admit(i: number, now: number): { run: AnalyzerConfig[]; skipped: { name: AnalyzerName; reason: string }[] } {
    const t = this.input.targets[this.sourceIndex[i]!]!;
    const wanted = this.input.analyzers.filter((a) => !t.analyzers || t.analyzers.includes(a.name));
    const run: AnalyzerConfig[] = [];
    const skipped: { name: AnalyzerName; reason: string }[] = [];
    for (const a of wanted) {
      const { breaker, decision } = admitAnalyzer(
        this.analyzerBreakers.get(a.name)!,
        this.cfg,
        { now, targetsFinished: this.finishedCount() },
        targetKey(t),
      );
      this.analyzerBreakers.set(a.name, breaker);
      if (decision.run) run.push(a);
      else skipped.push({ name: a.name, reason: decision.reason });
    }
    return { run, skipped };
  }

  /** A target ended: its analyzer outcomes feed the analyzer breakers, its status the pipeline breaker. */
  finish(i: number, status: TargetStatus, outcomes: AnalyzerOutcome[], now: number, reason?: string, findings = 0): void {
    const t = this.targets[i]!;
    Object.assign(t, { status, analyzers: outcomes, finishedAt: now, findings, ...(reason ? { reason } : {}) });
    const clock = { now, targetsFinished: this.finishedCount() };
    for (const o of outcomes) {
      const b = this.analyzerBreakers.get(o.analyzer);
      // A missing app is the target's failure, not the analyzer's: it neither trips nor resets the breaker.
      const status = o.cause === 'app' ? 'skipped' : o.status;
      if (b) this.analyzerBreakers.set(o.analyzer, recordAnalyzerOutcome(b, this.cfg, clock, targetKey(t), status, o.reason));
    }
    this.pipelineBreaker = recordTargetOutcome(this.pipelineBreaker, status, targetKey(t));
    this.version++;
  }

  reset(which: BreakerTarget): BreakerTarget[] {
    const done: BreakerTarget[] = [];
    if (which === 'pipeline' || which === 'all') {
      this.pipelineBreaker = resetPipelineBreaker(this.pipelineBreaker);
      done.push('pipeline');
    }
    for (const [name, b] of this.analyzerBreakers) {
      if (which === name || which === 'all') {
        this.analyzerBreakers.set(name, resetAnalyzerBreaker(b));
        done.push(name);
      }
    }
    this.version++;
    return done;
  }

  breakers(): AnalysisProgress['breakers'] {
    return { analyzers: [...this.analyzerBreakers.values()], pipeline: this.pipelineBreaker };
  }

  allTargets(): TargetProgress[] {
    return [...this.targets, ...this.duplicates];
  }

  progress(): AnalysisProgress {
    return { pipelineId: this.input.pipelineId, stage: this.stage, targets: this.allTargets(), breakers: this.breakers() };
  }

  /** The Stage search attribute: the phase, plus any open breaker, in one keyword. */
  stageKeyword(): string {
    const open = [...this.analyzerBreakers.values()].filter((b) => b.state !== 'closed').map((b) => `${b.analyzer}:${b.state}`);
    if (this.pipelineBreaker.state === 'open') open.unshift('pipeline:open');
    return open.length ? `${this.stage} (breakers ${open.join(',')})` : this.stage;
  }

  details(now: number): string {
    const lines = this.allTargets().map((t) => {
      const base = `- ${t.model}/${t.app}: ${t.status}`;
      if (t.status === 'running') return `${base} ${Math.round((now - (t.startedAt ?? now)) / 1000)}s`;
      return t.reason ? `${base} (${t.reason})` : `${base}${t.findings ? `, ${t.findings} findings` : ''}`;
    });
    const b = this.breakers();
    const breakerLines = [
      `- pipeline: ${b.pipeline.state}, ${b.pipeline.consecutiveFailedTargets}/${b.pipeline.threshold} consecutive failed targets`,
      ...b.analyzers.map(
        (a) =>
          `- ${a.analyzer}: ${a.state}, ${a.consecutiveFailures} consecutive failures${a.lastFailure ? ` (last: ${a.lastFailure.slice(0, 120)})` : ''}`,
      ),
    ];
    return [`**Analysis ${this.input.pipelineId}**: ${this.stage}`, ...lines, '', '**Breakers**', ...breakerLines].join('\n');
  }
}
