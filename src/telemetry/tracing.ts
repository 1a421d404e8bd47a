import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  makeWorkflowExporter,
  OpenTelemetryPlugin,
  type OpenTelemetryPluginOptions,
  type OpenTelemetrySinks,
} from '@temporalio/interceptors-opentelemetry';
import type { InjectedSinks, ReplayWorkerOptions, WorkerOptions } from '@temporalio/worker';
import type { WorkflowInfo } from '@temporalio/workflow';
import type { TelemetryConfig } from '../config/telemetry-config';
import { traceHttpClients } from './http-client';
import { RecentlySeen } from './recently-seen';

/** Tracing of one process: give `plugin` to the Temporal client and worker, `tracer` to the HTTP layer. */
export interface Tracing {
  /** Temporal's OpenTelemetry interceptors (client, workflow, activity) and the sink that exports workflow spans. */
  plugin: OpenTelemetryPlugin;
  tracer: Tracer;
  /** Flushes what is buffered and unregisters everything `startTracing` registered. */
  shutdown(): Promise<void>;
}

/**
 * Tracing over OTLP/HTTP when the config names a collector (OTEL_EXPORTER_OTLP_ENDPOINT); undefined (off) otherwise.
 */
export function tracingFromConfig(telemetry: TelemetryConfig, defaultServiceName: string): Tracing | undefined {
  if (!telemetry.otlp) return undefined;
  const exporter = new OTLPTraceExporter({ url: telemetry.otlp.tracesUrl, headers: telemetry.otlp.headers });
  return startTracing({
    serviceName: telemetry.serviceName ?? defaultServiceName,
    spanProcessor: new BatchSpanProcessor(exporter),
  });
}

/**
 * Registers a tracer provider for this process (AsyncLocalStorage context, W3C trace context) that hands finished
 * spans to `spanProcessor`, traces outgoing HTTP calls made inside a span (the provider calls of activities), and
 * returns the plugin that traces through Temporal: client calls, workflow runs, signals, updates, activities.
 */
export function startTracing(options: { serviceName: string; spanProcessor: SpanProcessor }): Tracing {
  const resource = Resource.default().merge(new Resource({ 'service.name': options.serviceName }));
  const provider = new BasicTracerProvider({ resource, spanProcessors: [options.spanProcessor] });
  provider.register({
    contextManager: new AsyncLocalStorageContextManager().enable(),
    propagator: new W3CTraceContextPropagator(),
  });
  const tracer = provider.getTracer('verifyflow');
  const stopHttpClients = traceHttpClients(tracer);
  let stopped = false;
  return {
    plugin: new TracingPlugin({ resource, spanProcessor: options.spanProcessor, tracer }),
    tracer,
    async shutdown() {
      if (stopped) return;
      stopped = true;
      stopHttpClients();
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/** What of a workflow's info its spans carry: identifiers, never its memo or search attributes. */
const SPAN_INFO = ['workflowId', 'runId', 'workflowType', 'namespace', 'taskQueue', 'attempt'] as const;

/**
 * The SDK's OpenTelemetry plugin, but the sink that exports workflow spans copies only identifiers of the workflow into
 * their attributes. The SDK's own copies the whole WorkflowInfo — memo (decoded: a verification's memo holds the
 * abuse guard's destination) and search attributes included. And it exports a span once, where the SDK's would export
 * it again when a workflow task runs twice.
 */
export class TracingPlugin extends OpenTelemetryPlugin {
  constructor(options: OpenTelemetryPluginOptions) {
    super(options);
  }

  override configureWorker(options: WorkerOptions): WorkerOptions {
    const configured = super.configureWorker(options);
    return { ...configured, sinks: { ...configured.sinks, ...this.workflowSpanSink() } };
  }

  override configureReplayWorker(options: ReplayWorkerOptions): ReplayWorkerOptions {
    const configured = super.configureReplayWorker(options);
    return { ...configured, sinks: { ...configured.sinks, ...this.workflowSpanSink() } };
  }

  private workflowSpanSink(): InjectedSinks<OpenTelemetrySinks> {
    const sdk = makeWorkflowExporter(this.otelOptions.spanProcessor, this.otelOptions.resource);
    // Workflow span IDs are deterministic: a task that ran again ends the same spans again. Export each once.
    const exported = new RecentlySeen();
    return {
      exporter: {
        export: {
          ...sdk.export,
          fn: (info: WorkflowInfo, spans) => {
            const fresh = spans.filter((s) => exported.firstTime(`${s.spanContext.traceId}/${s.spanContext.spanId}`));
            if (fresh.length === 0) return;
            return sdk.export.fn(
              Object.fromEntries(SPAN_INFO.map((key) => [key, info[key]])) as unknown as WorkflowInfo,
              fresh,
            );
          },
        },
      },
    };
  }
}
