import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { WorkflowNotFoundError } from '@temporalio/client';
import { someCause } from './errors';

/** gRPC FAILED_PRECONDITION, the code of the server's `WorkflowNotReady`. */
const FAILED_PRECONDITION = 9;

/**
 * Whether the server aborted an update because the workflow task that carried it failed: FAILED_PRECONDITION, "Unable
 * to perform workflow execution update due to unexpected workflow task failure". A phone check runs inside that task
 * (a local activity), so the update is accepted, checked and answered in the task that, on a right code, also
 * completes the run; when a signal or another update reaches the run while that task is out, the server refuses the
 * task (it would complete a run with new events waiting) and aborts the update with it. Nothing of that update was
 * kept: the run goes on from before it.
 */
export function isAbortedWithTaskFailure(err: unknown): boolean {
  return someCause(
    err,
    (e) => e.code === FAILED_PRECONDITION && /unexpected workflow task failure/i.test(String(e.message)),
  );
}

/** How many times an update aborted with its workflow task is sent in all. */
const ATTEMPTS = 3;

/**
 * Sends an update under one update ID, and again under the same ID when the server aborted it with the workflow task
 * that carried it (`isAbortedWithTaskFailure`). A repeat of an update the server did keep answers its first outcome,
 * so nothing runs twice; one it did not keep runs now, from the run's state then (a Vonage check whose code was
 * already accepted reads the abuse guard's note and answers verified). Without an ID of the caller's, one is made here.
 *
 * The run may have ended between the two (the signal that aborted the update was Vonage's `completed` for the code
 * being checked): then `ended`, when given, answers from how it ended, instead of the "no longer live" of an update
 * sent to a run that is over.
 */
export async function sendUpdate<T>(
  send: (updateId: string) => Promise<T>,
  updateId: string = randomUUID(),
  ended?: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send(updateId);
    } catch (err) {
      if (attempt > 1 && ended && err instanceof WorkflowNotFoundError) return ended();
      if (attempt >= ATTEMPTS || !isAbortedWithTaskFailure(err)) throw err;
      new Logger('sendUpdate').warn(`update ${updateId} aborted with its workflow task: sent again (${attempt + 1})`);
    }
  }
}
