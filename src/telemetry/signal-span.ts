import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { SpanName, SPAN_DELIMITER } from '@temporalio/interceptors-opentelemetry';
import { TRACE_HEADER, WORKFLOW_ID_ATTR_KEY } from '@temporalio/interceptors-opentelemetry/lib/instrumentation';

/** The Temporal header of a call made outside the client's interceptors. */
export type TemporalHeader = { fields: Record<string, Payload> };

/**
 * Runs a signal that bypasses the client's interceptors (the webhooks' `signalOnce` calls the gRPC service itself) the
 * way the tracing interceptor would: in a `SignalWorkflow:<name>` span, handing `send` the header that carries the
 * span's context to the workflow's `HandleSignal` span. With tracing off the span is a no-op and there is no header.
 */
export async function inSignalSpan<T>(
  signalName: string,
  workflowId: string,
  send: (header: TemporalHeader | undefined) => Promise<T>,
): Promise<T> {
  const tracer = trace.getTracer('verifyflow');
  return tracer.startActiveSpan(
    `${SpanName.WORKFLOW_SIGNAL}${SPAN_DELIMITER}${signalName}`,
    { kind: SpanKind.CLIENT, attributes: { [WORKFLOW_ID_ATTR_KEY]: workflowId } },
    async (span) => {
      try {
        const carrier: Record<string, string> = {};
        propagation.inject(context.active(), carrier);
        const header = Object.keys(carrier).length
          ? { fields: { [TRACE_HEADER]: defaultPayloadConverter.toPayload(carrier) } }
          : undefined;
        return await send(header);
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'failed' });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}
