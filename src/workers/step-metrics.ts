import type { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure, type MetricMeter } from '@temporalio/common';
import type { ActivityInterceptors } from '@temporalio/worker';

// Shepherd's own step metrics, through the SDK's metric meter: they reach whatever exporter the
// runtime has (the Prometheus endpoint at SHEPHERD_METRICS_ADDRESS), beside the SDK's metrics,
// and carry its namespace / task_queue / activity_type labels. A "step" is one activity attempt.

interface StepMeters {
  started: ReturnType<MetricMeter['createCounter']>;
  succeeded: ReturnType<MetricMeter['createCounter']>;
  failed: ReturnType<MetricMeter['createCounter']>;
  retried: ReturnType<MetricMeter['createCounter']>;
  duration: ReturnType<MetricMeter['createHistogram']>;
}

const meters = new WeakMap<MetricMeter, StepMeters>();

function stepMeters(meter: MetricMeter): StepMeters {
  let m = meters.get(meter);
  if (!m) {
    m = {
      started: meter.createCounter('shepherd_steps_started', 'steps', 'step attempts started'),
      succeeded: meter.createCounter('shepherd_steps_succeeded', 'steps', 'step attempts that succeeded'),
      failed: meter.createCounter('shepherd_steps_failed', 'steps', 'step attempts that failed, by failure_type'),
      retried: meter.createCounter('shepherd_steps_retried', 'steps', 'step attempts after the first (retries)'),
      duration: meter.createHistogram('shepherd_step_duration', 'int', 'ms', 'step attempt duration'),
    };
    meters.set(meter, m);
  }
  return m;
}

/** The failure's type as Shepherd classifies it (CommandFailed, StepTimedOut, ...), else its class. */
export function failureType(err: unknown): string {
  if (err instanceof ApplicationFailure) return err.type ?? 'ApplicationFailure';
  if (err instanceof CancelledFailure) return 'Cancelled';
  return (err as Error)?.name ?? 'Error';
}

/** Worker interceptor factory: counts and times every activity attempt by pipeline and step. */
export function stepMetricsInterceptor(ctx: Context): ActivityInterceptors {
  return {
    inbound: {
      async execute(input, next) {
        const { info } = ctx;
        const m = stepMeters(ctx.metricMeter);
        const tags = { pipeline: info.workflowType ?? 'none', step: info.activityType };
        m.started.add(1, tags);
        if (info.attempt > 1) m.retried.add(1, tags);
        const t0 = Date.now();
        try {
          const result = await next(input);
          m.succeeded.add(1, tags);
          return result;
        } catch (err) {
          m.failed.add(1, { ...tags, failure_type: failureType(err) });
          throw err;
        } finally {
          m.duration.record(Date.now() - t0, tags);
        }
      },
    },
  };
}
