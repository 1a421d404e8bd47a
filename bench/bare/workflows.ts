import { condition, defineSignal, defineUpdate, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { createBareActivities } from './activities';

/** Signal of the bare baseline: stands for a provider callback turned into a signal. */
export const delivered = defineSignal('delivered');
/** Update of the bare baseline: stands for `checkCode`. */
export const check = defineUpdate<'completed' | 'invalid_code', [string]>('check');

const { sendCode } = proxyActivities<ReturnType<typeof createBareActivities>>({ startToCloseTimeout: '30s' });

/** The code the bare baseline expects: derived from the workflow ID, so the driver knows it without an outbox. */
export const bareCode = (workflowId: string): string => workflowId.slice(-6);

/**
 * The baseline the benchmark compares verifyflow with: a bare Temporal workflow of the same shape as an SMS
 * verification — one activity (send), one signal (delivery callback), one update (check the code), one timer (the
 * channel timeout) — with no NestJS, no provider, no validation, no search attributes.
 */
export async function bareVerification(input: { timeoutSeconds: number }): Promise<string> {
  let sent = false;
  let status: 'pending' | 'completed' | 'expired' = 'pending';
  setHandler(delivered, () => undefined);
  setHandler(check, async (code) => {
    await condition(() => sent);
    if (code !== bareCode(workflowInfo().workflowId)) return 'invalid_code';
    status = 'completed';
    return 'completed';
  });
  // The channel timer starts with the first task, so every run has exactly one timer, as verifyflow's SMS path has.
  const checked = condition(() => status === 'completed', input.timeoutSeconds * 1000);
  await sendCode(workflowInfo().workflowId);
  sent = true;
  if (!(await checked)) status = 'expired';
  return status;
}
