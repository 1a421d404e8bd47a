import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { codecDataConverter, parseCodecKeys } from '../../src/temporal/codec';
import { SHARED_WORKFLOW_MODULES } from '../../src/temporal/plugin';
import { HISTORIES_DIR } from '../support/histories';
import { TEST_CODEC_KEYS } from '../support/stack';

/**
 * Replays every committed history (test/histories/*.json, recorded from real runs with
 * `npm run test:record-histories`) against today's workflow code. A change that would alter the commands of a
 * running verification fails here: guard it with `patched()` instead.
 */
const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json'));

let workflowBundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  // One bundle of today's workflow code, built like VerificationPlugin's (shared libraries preloaded), serves every history.
  workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    preloadModules: [...SHARED_WORKFLOW_MODULES],
    logger: new DefaultLogger('WARN'),
  });
});

test('there are committed histories to replay', () => {
  expect(files.length).toBeGreaterThanOrEqual(4);
});

test.each(files)('replays %s deterministically', async (file) => {
  const history = historyFromJSON(JSON.parse(readFileSync(join(HISTORIES_DIR, file), 'utf8')));
  // Histories recorded through the app are encrypted with the fixed test key; older ones are plain JSON.
  const dataConverter = codecDataConverter(parseCodecKeys(TEST_CODEC_KEYS));
  // The recorded workflow ID, when the history has it: workflows may derive IDs from it (push → phone fallback child).
  const workflowId =
    history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowId || file.replace(/\.json$/, '');
  await Worker.runReplayHistory({ workflowBundle, dataConverter }, history, workflowId);
});
