import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { HISTORIES_DIR } from '../support/histories';

/**
 * Replays every committed history (test/histories/*.json, recorded from real runs with
 * `npm run test:record-histories`) against today's workflow code. A change that would alter the commands of a
 * running verification fails here: guard it with `patched()` instead.
 */
const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json'));

let workflowBundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  // One bundle of today's workflow code serves every history.
  workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    logger: new DefaultLogger('WARN'),
  });
});

test('there are committed histories to replay', () => {
  expect(files.length).toBeGreaterThanOrEqual(4);
});

test.each(files)('replays %s deterministically', async (file) => {
  const history = historyFromJSON(JSON.parse(readFileSync(join(HISTORIES_DIR, file), 'utf8')));
  await Worker.runReplayHistory({ workflowBundle }, history, file.replace(/\.json$/, ''));
});
