import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { temporal } from '@temporalio/proto';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { codecDataConverter, parseCodecKeys } from '../../src/temporal/codec';
import { SHARED_WORKFLOW_MODULES } from '../../src/temporal/plugin';
import { startTracing } from '../../src/telemetry/tracing';
import { contractOfType, phoneContract, WORKFLOW_CONTRACTS } from '../../workflows/contract';
import { HISTORIES_DIR } from '../support/histories';
import { TEST_CODEC_KEYS } from '../support/stack';

/**
 * Replays every committed history (test/histories/*.json, recorded from real runs with
 * `npm run test:record-histories`) against today's workflow code. A change that would alter the commands of a
 * running verification fails here: guard it with `patched()` instead. Every workflow kind of the contract has
 * histories, and a deliberately changed workflow must fail (the negative control: the test can fail at all).
 */
const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json'));
const histories = new Map(
  files.map((file) => [file, historyFromJSON(JSON.parse(readFileSync(join(HISTORIES_DIR, file), 'utf8')))]),
);
const started = (history: temporal.api.history.v1.IHistory) =>
  history.events?.[0]?.workflowExecutionStartedEventAttributes;
// Histories recorded through the app are encrypted with the fixed test key; older ones are plain JSON.
const dataConverter = codecDataConverter(parseCodecKeys(TEST_CODEC_KEYS));

/** One bundle built like VerificationPlugin's (shared libraries preloaded). */
const bundle = (workflowsPath: string) =>
  bundleWorkflowCode({
    workflowsPath,
    preloadModules: [...SHARED_WORKFLOW_MODULES],
    logger: new DefaultLogger('WARN'),
  });

let workflowBundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  workflowBundle = await bundle(require.resolve('../../workflows'));
});

test('every workflow kind of the contract has committed histories', () => {
  const types = new Set([...histories.values()].map((h) => started(h)?.workflowType?.name));
  expect(WORKFLOW_CONTRACTS.filter((c) => !types.has(c.type)).map((c) => c.type)).toEqual([]);
});

test.each(files)('replays %s deterministically', async (file) => {
  const history = histories.get(file)!;
  const contract = contractOfType(started(history)?.workflowType?.name ?? '');
  expect(contract).toBeDefined();
  // The recorded workflow ID is one of its kind's: workflows may derive IDs from it (push → phone fallback child).
  const workflowId = started(history)?.workflowId ?? '';
  expect(workflowId).toMatch(contract!.idPattern);
  await Worker.runReplayHistory({ workflowBundle, dataConverter }, history, workflowId);
});

test('every history replays as well with the tracing interceptors in the bundle: turning tracing on is safe for running verifications', async () => {
  // The worker's own tracing plugin (src/telemetry/tracing.ts): its workflow interceptors bundled, its span sink given.
  const tracing = startTracing({
    serviceName: 'replay',
    spanProcessor: new SimpleSpanProcessor(new InMemorySpanExporter()),
  });
  try {
    const traced = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows'),
      preloadModules: [...SHARED_WORKFLOW_MODULES],
      plugins: [tracing.plugin],
      logger: new DefaultLogger('WARN'),
    });
    // Not the plain bundle again: the OpenTelemetry workflow interceptors are in it.
    expect(traced.code).toContain('OpenTelemetryInboundInterceptor');
    expect(workflowBundle.code).not.toContain('OpenTelemetryInboundInterceptor');
    const results = Worker.runReplayHistories(
      { workflowBundle: traced, dataConverter, plugins: [tracing.plugin] },
      [...histories.values()].map((history) => ({ history, workflowId: started(history)?.workflowId ?? '' })),
    );
    const failed: string[] = [];
    let replayed = 0;
    for await (const r of results) {
      replayed++;
      if (r.error) failed.push(`${r.workflowId}: ${r.error.message}`);
    }
    expect(failed).toEqual([]);
    expect(replayed).toBe(histories.size);
  } finally {
    await tracing.shutdown();
  }
});

test('negative control: a phoneVerification with a timer it never had fails to replay a committed history', async () => {
  const changed = await bundle(require.resolve('./changed-workflows'));
  const [file, history] = [...histories].find(([, h]) => started(h)?.workflowType?.name === phoneContract.type)!;
  await expect(
    Worker.runReplayHistory({ workflowBundle: changed, dataConverter }, history, started(history)?.workflowId ?? file),
  ).rejects.toThrow(DeterminismViolationError);
});
