import { createHmac, randomBytes } from 'node:crypto';
import {
  type Client,
  type WorkflowHandle,
  type WorkflowStartOptions,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import type { SearchAttributePair, UpdateDefinition } from '@temporalio/common';
import type { Workflow } from '@temporalio/common';
import { ReferenceConflictException } from '../common/http-errors';
import { SA_CLIENT, SA_KIND, SA_STATUS } from '../../workflows/contract';
import { accepted, FIRST_STATE_DEADLINE_MS, firstState, toHttpError } from './errors';

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
  /**
   * Search attributes set at the start besides kind, status `pending` and client (a status here replaces `pending`).
   * Whatever the start sets, the workflow does not upsert again (each upsert is a billed action): set what the run
   * will say once its first step is live.
   */
  searchAttributes?: SearchAttributePair[];
  staticSummary: string;
  staticDetails?: string;
  /** More memo fields (encrypted by the payload codec like every payload). */
  memo?: Record<string, unknown>;
  /** The state of a running verification this request joins (a repeat under the same reference): a query. */
  state: (handle: WorkflowHandle) => Promise<S>;
  /**
   * What a new run answers, without a query (each one is a billed action and waits for the worker): `initial` builds
   * the state the workflow starts with from the input (the pure function the workflow itself starts from); `update`
   * is sent with the start (update-with-start) and answers once the run made its first step — e.g. silent auth's
   * check URL, which the caller would otherwise poll for.
   */
  first: { initial: () => S } | { update: UpdateDefinition<S, []> };
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
 * first state, built from the input or answered by the update sent with the start (`spec.first`); 202 when a run was
 * started but its update could not answer in time.
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
  try {
    const options = {
      workflowId: spec.workflowId,
      taskQueue,
      args: [spec.input] as Parameters<W>,
      workflowIdConflictPolicy: 'FAIL' as const,
      memo: { ...spec.memo, requestHash },
      typedSearchAttributes: [
        ...[
          { key: SA_KIND, value: spec.kind },
          { key: SA_STATUS, value: 'pending' },
          { key: SA_CLIENT, value: spec.client },
        ].filter((d) => !spec.searchAttributes?.some((p) => p.key.name === d.key.name)),
        ...(spec.searchAttributes ?? []),
      ],
      staticSummary: spec.staticSummary,
      staticDetails: spec.staticDetails,
    };
    const start = options as unknown as WorkflowStartOptions<W>;
    if ('update' in spec.first) return await startWithUpdate(client, spec, spec.first.update, start, requestHash);
    await client.workflow.start(spec.workflow, start);
  } catch (err) {
    if (err instanceof StartedWithoutAnswer) throw err.answer;
    await undo?.();
    if (err instanceof WorkflowExecutionAlreadyStartedError && spec.byReference) {
      // Another request with the same reference won the race: the same request joins it, another one conflicts.
      const running = await joinRunning();
      if (running) return running;
    }
    throw toHttpError(err, spec.workflowId);
  }
  return spec.first.initial();
}

/** The run was started, but the update sent with it gave no answer: `answer` is what the caller gets (202). */
class StartedWithoutAnswer extends Error {
  constructor(readonly answer: Error) {
    super(answer.message);
  }
}

/**
 * Update-with-start: one request that starts the run and sends `update`, answered with the update's result once the
 * run has made its first step — under the first-state deadline. When the update cannot answer (a busy worker, or a
 * worker that does not know the update yet) but the run was started, the answer is its state by query, else 202.
 */
async function startWithUpdate<W extends Workflow, S>(
  client: Client,
  spec: StartSpec<W, S>,
  update: UpdateDefinition<S, []>,
  options: WorkflowStartOptions<W>,
  requestHash: string,
): Promise<S> {
  const operation = new WithStartWorkflowOperation(spec.workflow, {
    ...options,
    workflowIdConflictPolicy: 'FAIL',
  } as ConstructorParameters<typeof WithStartWorkflowOperation<W>>[1]);
  try {
    return await client.connection.withDeadline(Date.now() + FIRST_STATE_DEADLINE_MS, () =>
      client.workflow.executeUpdateWithStart(update, { args: [], startWorkflowOperation: operation }),
    );
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw err;
    // Was the run started? The start's answer says so; without one (the deadline came first), the run itself does.
    const handle = (await operation.workflowHandle().catch(() => undefined)) ?? (await ours(client, spec, requestHash));
    if (!handle) throw err;
    // A worker that does not know the update yet (a rolling deploy) rejects it: the state is read instead.
    if (!(err instanceof WorkflowUpdateFailedError)) {
      throw new StartedWithoutAnswer(accepted(spec.workflowId, spec.kind, (err as Error)?.message));
    }
    try {
      return await firstState(client, handle, spec.kind, spec.state);
    } catch (answer) {
      throw new StartedWithoutAnswer(answer as Error);
    }
  }
}

/** The handle of the run this request started, when it is running under our request's hash; else undefined. */
async function ours<W extends Workflow, S>(
  client: Client,
  spec: StartSpec<W, S>,
  requestHash: string,
): Promise<WorkflowHandle | undefined> {
  const handle = client.workflow.getHandle(spec.workflowId);
  const description = await handle.describe().catch(() => undefined);
  return description?.status.name === 'RUNNING' && description.memo?.requestHash === requestHash ? handle : undefined;
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
