// Build B of the cluster's rolling-deploy test (test/cluster/): today's workflows with one change to
// phoneVerification behind a `patched` branch, the way docs/CHANGING-WORKFLOWS.md says a command change is made.
// Workflow code: bundled by bench/rolling-deploy/worker.ts, never by the product's worker.
import { patched, upsertMemo } from '@temporalio/workflow';
import { phoneVerification as buildA } from '../../workflows/phone/workflow';

export * from '../../workflows';

/** The patch id: a run that recorded it was started by build B. */
export const BUILD_B_PATCH = 'rolling-deploy-build-b';

/**
 * Build A's phoneVerification plus one new command on new runs: a memo saying which build started the run. A run
 * started by build A that replayed here (an auto-upgrade instead of a pinned run) would take the old branch.
 */
export async function phoneVerification(...args: Parameters<typeof buildA>): ReturnType<typeof buildA> {
  if (patched(BUILD_B_PATCH)) upsertMemo({ startedOnBuild: 'B' });
  return buildA(...args);
}
