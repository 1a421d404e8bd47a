import { NotFoundException } from '@nestjs/common';
import {
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { SA_CLIENT } from '../../workflows/contract';
import { toHttpError } from '../temporal/errors';

/** Characters a workflow ID of ours is made of (references: A-Z a-z 0-9 . _ : -). */
const ID_CHARS = /^[A-Za-z0-9._:-]{1,200}$/;

/**
 * Whether `id` is a workflow ID the API client could own: `<kind>-<client>-…` for one of `kinds`. A cheap first check
 * (no Temporal call) before `ownedRun` confirms it on the run itself.
 */
export function isClientId(id: string, client: string, kinds: readonly string[]): boolean {
  return (
    ID_CHARS.test(id) &&
    kinds.some((kind) => id.startsWith(`${kind}-${client}-`) && id.length > kind.length + client.length + 2)
  );
}

/** 404 for an ID the caller does not own — the same answer as for an ID that does not exist (no existence oracle). */
export function notFound(what: string, id: string): NotFoundException {
  return new NotFoundException(`${what} ${id} not found`);
}

/**
 * The run `id` if it belongs to `client`: its ID has the client's prefix and its `VerificationClient` search attribute
 * (set at start, inherited by children) names the client. Another client's run, or none, answers 404 alike.
 */
export async function ownedRun(
  temporal: Client,
  client: string,
  id: string,
  kinds: readonly string[],
  what = 'verification',
): Promise<{ handle: WorkflowHandle; description: WorkflowExecutionDescription }> {
  if (!isClientId(id, client, kinds)) throw notFound(what, id);
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
