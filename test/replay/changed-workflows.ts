// The negative control of the replay test: phoneVerification changed the way docs/CHANGING-WORKFLOWS.md warns about —
// a timer before anything else, so its first commands differ from every recorded history's. Workflow code: bundled
// by the replay test, never by a worker.
import { sleep } from '@temporalio/workflow';
import { phoneVerification as recorded } from '../../workflows/phone/workflow';

/** Today's phoneVerification behind a one-second timer it never had: replaying an old history must fail. */
export async function phoneVerification(...args: Parameters<typeof recorded>): ReturnType<typeof recorded> {
  await sleep('1 second');
  return recorded(...args);
}
