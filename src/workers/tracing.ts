import type { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type * as OtelInterceptors from '@temporalio/interceptors-opentelemetry';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

// OpenTelemetry tracing through the SDK's interceptors: one span per activity attempt (linked to
// the workflow's span context when the caller propagates one), exported over OTLP/HTTP to
// OTEL_EXPORTER_OTLP_ENDPOINT. Off unless that variable is set, and then not even loaded: the
// OpenTelemetry SDK and exporter would cost every worker ~15 MB of memory for nothing.

let provider: BasicTracerProvider | undefined;
let interceptors: typeof OtelInterceptors | undefined;

/** Sets up the exporter once per process; returns false when tracing is off. */
export async function installTracing(endpoint: string | undefined, serviceName = 'shepherd-worker'): Promise<boolean> {
  if (!endpoint || provider) return provider !== undefined;
  const [{ OTLPTraceExporter }, { Resource }, { BasicTracerProvider, BatchSpanProcessor }, otel] = await Promise.all([
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-base'),
    import('@temporalio/interceptors-opentelemetry'),
  ]);
  interceptors = otel;
  const exporter = new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` });
  provider = new BasicTracerProvider({
    resource: new Resource({ 'service.name': serviceName }),
    // Batched, flushed at shutdown: a span must never hold up the step it describes.
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1000 })],
  });
  provider.register();
  return true;
}

/** The activity interceptors to add to every worker: none while tracing is off. */
export function tracingInterceptors(): ActivityInterceptorsFactory[] {
  const tracer = provider?.getTracer('shepherd');
  if (!tracer || !interceptors) return [];
  const { OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor } = interceptors;
  return [
    (ctx) => ({
      inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer }),
      outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
    }),
  ];
}

/** Exports what is still buffered (worker shutdown). */
export async function shutdownTracing(): Promise<void> {
  await provider?.shutdown();
}
