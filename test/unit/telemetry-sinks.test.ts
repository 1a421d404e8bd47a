import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { Resource } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { SerializableSpan } from '@temporalio/interceptors-opentelemetry/lib/workflow/definitions';
import type { MetricMeter } from '@temporalio/common';
import type { WorkerOptions } from '@temporalio/worker';
import type { WorkflowInfo } from '@temporalio/workflow';
import { verificationCostSinks } from '../../src/telemetry/cost';
import { RecentlySeen } from '../../src/telemetry/recently-seen';
import { TracingPlugin } from '../../src/telemetry/tracing';

/**
 * What the worker's sinks do with what a workflow hands them twice — a workflow task that ran again without being a
 * replay (its completion rejected, the worker lost it) repeats its sink calls: the same workflow spans are exported
 * once, an ended verification is priced once. And workflow spans carry the workflow's identifiers only, not its memo.
 */
const info = {
  workflowId: 'phone-sandbox-0123456789abcdef0123',
  runId: 'run-1',
  workflowType: 'phoneVerification',
  namespace: 'default',
  taskQueue: 'verification',
  attempt: 1,
  memo: { destination: '+14155550100' },
  searchAttributes: {},
  unsafe: { isReplaying: false },
} as unknown as WorkflowInfo;

const span = (spanId: string): SerializableSpan => ({
  name: 'RunWorkflow:phoneVerification',
  kind: SpanKind.SERVER,
  spanContext: { traceId: '0af7651916cd43dd8448eb211c80319c', spanId, traceFlags: 1 },
  startTime: [1, 0],
  endTime: [2, 0],
  duration: [1, 0],
  status: { code: SpanStatusCode.OK },
  attributes: {},
  links: [],
  events: [],
  ended: true,
  droppedAttributesCount: 0,
  droppedEventsCount: 0,
  droppedLinksCount: 0,
  instrumentationLibrary: { name: '@temporalio/interceptor-workflow' },
});

test('a workflow span handed over again is exported once; its attributes are the workflow identifiers only', async () => {
  const exporter = new InMemorySpanExporter();
  const plugin = new TracingPlugin({ resource: Resource.default(), spanProcessor: new SimpleSpanProcessor(exporter) });
  const sinks = plugin.configureWorker({ taskQueue: 'verification' } as WorkerOptions).sinks as {
    exporter: { export: { fn(info: WorkflowInfo, spans: SerializableSpan[]): unknown } };
  };
  await sinks.exporter.export.fn(info, [span('b7ad6b7169203331')]);
  await sinks.exporter.export.fn(info, [span('b7ad6b7169203331'), span('00f067aa0ba902b7')]);
  await sinks.exporter.export.fn(info, [span('00f067aa0ba902b7')]);
  const exported = exporter.getFinishedSpans();
  expect(exported.map((s) => s.spanContext().spanId)).toEqual(['b7ad6b7169203331', '00f067aa0ba902b7']);
  expect(JSON.stringify(exported.map((s) => s.attributes))).not.toContain('+14155550100');
  expect(exported[0].attributes).toMatchObject({ workflowId: info.workflowId, runId: 'run-1' });
});

test('an ended verification handed over again is priced once per run', async () => {
  const recorded: number[] = [];
  const meter = {
    createHistogram: () => ({ record: (value: number) => void recorded.push(value) }),
  } as unknown as MetricMeter;
  const sinks = verificationCostSinks({ 'vonage:sms': 0.5 }, () => meter);
  const summary = { kind: 'phone', status: 'completed' as const, client: 'sandbox', sends: { 'vonage:sms': 2 } };
  await sinks.verifyflowCost.ended.fn(info, summary);
  await sinks.verifyflowCost.ended.fn(info, summary);
  await sinks.verifyflowCost.ended.fn({ ...info, runId: 'run-2' }, summary);
  expect(recorded).toEqual([1, 1]);
});

test('RecentlySeen: true the first time, false for a repeat, forgets the oldest beyond its limit', () => {
  const seen = new RecentlySeen(2);
  expect([seen.firstTime('a'), seen.firstTime('a'), seen.firstTime('b'), seen.firstTime('c')]).toEqual([
    true,
    false,
    true,
    true,
  ]);
  expect([seen.firstTime('a'), seen.firstTime('c')]).toEqual([true, false]);
});
