import { createHmac, randomBytes } from 'node:crypto';
import {
  type Client,
  type WorkflowHandle,
  type WorkflowStartOptions,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import type { Workflow } from '@temporalio/common';
import { ReferenceConflictException } from '../common/http-errors';
import { SA_CLIENT, SA_KIND, SA_STATUS } from '../../workflows/contract';
import { firstState, toHttpError } from './errors';

/**
 * The key of a verification started without a reference: 80 random bits as 20 hex, short enough for
 * `phone-<client>-<key>` to fit Vonage's 40-character client_ref, and a key every kind's ID pattern accepts.
 */
export const randomKey = (): string => randomBytes(10).toString('hex');

/** What a REST start needs: the run to start for an API client, and how to read its first state. */
export interface StartSpec<W extends Workflow, S> {
  workflow: W;
  workflowId: string;
  /** The workflow's one argument (the caller's body plus what the API fills in: client, …). */
  input: Parameters<W>[0];
  /** What the caller sent: with a reference, a repeat must send the same (else 409 reference_conflict). */
  body: unknown;
  kind: string;
  client: string;
  /** True when the ID derives from the caller's reference (a repeat joins the running verification). */
  byReference: boolean;
  searchAttributes?: SearchAttributePair[];
  staticSummary: string;
  staticDetails?: string;
  /** More memo fields (encrypted by the payload codec like every payload). */
  memo?: Record<string, unknown>;
  state: (handle: WorkflowHandle) => Promise<S>;
  /**
   * Runs just before the start (after the reference check): e.g. counts the first send with the abuse guard. It
   * throws to refuse the start; what it returns undoes it when the start does not happen.
   */
  beforeStart?: () => Promise<(() => Promise<void>) | void>;
}

/**
 * Starts a verification for an API client — the one place the REST API starts workflows. With a reference, a repeat of
 * the same request answers the running verification (nothing sent again, nothing counted), and a different request
 * under the same reference is refused with 409 `reference_conflict` (the request's keyed hash travels in the memo).
 * The start uses conflict policy FAIL, so two racing starts cannot both believe they created it. The answer is the
 * first state (or 202 when the worker cannot give it in time, see `firstState`).
 */
export async function startVerification<W extends Workflow, S>(
  client: Client,
  taskQueue: string,
  hashKey: Buffer,
  spec: StartSpec<W, S>,
): Promise<S> {
  const requestHash = createHmac('sha256', hashKey).update(canonicalJson(spec.body)).digest('base64url');
  const joinRunning = async (): Promise<S | undefined> => {
    const handle = client.workflow.getHandle(spec.workflowId);
    let description;
    try {
      description = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw toHttpError(err, spec.workflowId);
    }
    if (description.status.name !== 'RUNNING') return undefined;
    if (
      description.typedSearchAttributes.get(SA_CLIENT) !== spec.client ||
      description.memo?.requestHash !== requestHash
    ) {
      throw new ReferenceConflictException(spec.workflowId);
    }
    return firstState(client, handle, spec.kind, spec.state);
  };

  if (spec.byReference) {
    const running = await joinRunning();
    if (running) return running;
  }
  const undo = (await spec.beforeStart?.()) ?? undefined;
  let handle: WorkflowHandle;
  try {
    const options = {
      workflowId: spec.workflowId,
      taskQueue,
      args: [spec.input] as Parameters<W>,
      workflowIdConflictPolicy: 'FAIL' as const,
      memo: { ...spec.memo, requestHash },
      typedSearchAttributes: [
        { key: SA_KIND, value: spec.kind },
        { key: SA_STATUS, value: 'pending' },
        { key: SA_CLIENT, value: spec.client },
        ...(spec.searchAttributes ?? []),
      ],
      staticSummary: spec.staticSummary,
      staticDetails: spec.staticDetails,
    };
    handle = await client.workflow.start(spec.workflow, options as unknown as WorkflowStartOptions<W>);
  } catch (err) {
    await undo?.();
    if (err instanceof WorkflowExecutionAlreadyStartedError && spec.byReference) {
      // Another request with the same reference won the race: the same request joins it, another one conflicts.
      const running = await joinRunning();
      if (running) return running;
    }
    throw toHttpError(err, spec.workflowId);
  }
  return firstState(client, handle, spec.kind, spec.state);
}

/** JSON with object keys sorted at every level: the same request hashes the same whatever its key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}
