import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { bareCode, bareVerification, check, delivered } from './workflows';

/** The steps of one bare run, each timed on its own. */
export type BareStep = 'start' | 'signal' | 'check';

/**
 * One run of the bare baseline as the benchmark drives it, straight through the Temporal client: start, the delivery
 * signal, the check update with the right code. `timed` hears each step's milliseconds. Answers the run's workflow ID
 * and what the check answered.
 */
export async function runBareFlow(
  client: Client,
  taskQueue: string,
  timed: (step: BareStep, ms: number) => void = () => undefined,
): Promise<{ workflowId: string; status: string }> {
  const workflowId = `bare-${randomUUID().replace(/-/g, '')}`;
  let t = performance.now();
  const lap = (step: BareStep) => {
    const now = performance.now();
    timed(step, now - t);
    t = now;
  };
  const handle = await client.workflow.start(bareVerification, {
    taskQueue,
    workflowId,
    args: [{ timeoutSeconds: 120 }],
  });
  lap('start');
  await handle.signal(delivered);
  lap('signal');
  const status = await handle.executeUpdate(check, { args: [bareCode(workflowId)] });
  lap('check');
  return { workflowId, status };
}
