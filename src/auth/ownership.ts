import { NotFoundException } from '@nestjs/common';
import {
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { SA_CLIENT, type WorkflowContract } from '../../workflows/contract';
import { toHttpError } from '../temporal/errors';
import { isClientId } from './client-ids';

export { isClientId };

/** 404 for an ID the caller does not own — the same answer as for an ID that does not exist (no existence oracle). */
export function notFound(what: string, id: string): NotFoundException {
  return new NotFoundException(`${what} ${id} not found`);
}

/**
 * The run `id` if it belongs to `client`: its ID is one of `contracts`' with the client's prefix, and its `VerificationClient` search attribute
 * (set at start, inherited by children) names the client. Another client's run, or none, answers 404 alike.
 */
export async function ownedRun(
  temporal: Client,
  client: string,
  id: string,
  contracts: readonly WorkflowContract[],
  what = 'verification',
): Promise<{ handle: WorkflowHandle; description: WorkflowExecutionDescription }> {
  if (!isClientId(id, client, contracts)) throw notFound(what, id);
  const handle = temporal.workflow.getHandle(id);
  let description: WorkflowExecutionDescription;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw notFound(what, id);
    throw toHttpError(err, id, what);
  }
  if (description.typedSearchAttributes.get(SA_CLIENT) !== client) throw notFound(what, id);
  return { handle, description };
}
