import {
  BadRequestException,
  ConflictException,
  HttpException,
  HttpStatus,
  Logger,
  NotFoundException,
  ServiceUnavailableException,
} from '@nestjs/common';
import {
  type Client,
  type WorkflowHandle,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { DestinationNotAllowedException, RateLimitedException } from '../common/http-errors';
import { FailureType } from '../../workflows/contract';

/** Whether `test` holds for the error or any error in its `cause` chain (client errors wrap the gRPC one). */
export function someCause(err: unknown, test: (e: { code?: unknown; message?: unknown }) => boolean): boolean {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (test(e)) return true;
  }
  return false;
}

/** True when the Temporal frontend cannot be reached (callers answer 503 so providers retry). */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
  return someCause(
    err,
    (e) =>
      // gRPC UNAVAILABLE (14) and DEADLINE_EXCEEDED (4)
      e.code === 14 || e.code === 4 || /ECONNREFUSED|UNAVAILABLE|No connection established/i.test(String(e.message)),
  );
}

/** How long a start waits for the new workflow's first state before answering 202 instead. */
export const FIRST_STATE_DEADLINE_MS = 5000;

/**
 * The state of a workflow this request has just started (or joined), read with `query`. The query waits for the
 * worker's first workflow task; when the worker is saturated or restarting it cannot answer in time (the deadline,
 * or the server cancelling a query whose sticky worker died). The workflow exists anyway, so whatever made the
 * query fail, the answer is 202 with its id and `status: pending`, never 5xx: a client that retried a 5xx without
 * `reference` would start a second verification and send a second message.
 */
export async function firstState<T>(
  client: Client,
  handle: WorkflowHandle,
  kind: string,
  query: (handle: WorkflowHandle) => Promise<T>,
): Promise<T> {
  try {
    return await client.connection.withDeadline(Date.now() + FIRST_STATE_DEADLINE_MS, () => query(handle));
  } catch (err) {
    throw accepted(handle.workflowId, kind, (err as Error)?.message);
  }
}

/** The 202 answer of a start whose run exists but whose first state could not be had in time (logged with why). */
export function accepted(workflowId: string, kind: string, why: string | undefined): HttpException {
  new Logger('firstState').warn(`${workflowId} started; its first state could not be read (${why}): answered 202`);
  return new HttpException(
    { id: workflowId, kind, status: 'pending', message: `started; its state is not available yet: GET it by id` },
    HttpStatus.ACCEPTED,
  );
}

/** Update failures that mean "not possible in the current state" (409), by their ApplicationFailure type. */
const CONFLICT_TYPES: string[] = [
  FailureType.NotLive,
  FailureType.CodeNotSupported,
  FailureType.ResendNotAvailable,
  FailureType.ApprovalRefused,
];

/**
 * The HTTP answer of a failed update: the abuse guard's refusals (429 with Retry-After, 422 for a country), 409 for
 * what the state does not allow, 400 for what the validator refused. Matched on failure types, never message text.
 */
export function updateFailureToHttp(cause: unknown): HttpException {
  if (!(cause instanceof ApplicationFailure)) return new BadRequestException((cause as Error)?.message ?? 'rejected');
  if (cause.type === FailureType.RateLimited) {
    const detail = (cause.details?.[0] ?? {}) as { scope?: string; retryAfterSeconds?: number };
    return new RateLimitedException(detail.scope ?? 'destination', detail.retryAfterSeconds ?? 60, cause.message);
  }
  if (cause.type === FailureType.DestinationNotAllowed) return new DestinationNotAllowedException();
  if (cause.type && CONFLICT_TYPES.includes(cause.type)) return new ConflictException(cause.message);
  return new BadRequestException(cause.message);
}

/**
 * Maps Temporal client errors to HTTP: unknown → 404, rejected update → 400/409/429, unreachable → 503. `what` names
 * the thing in messages (a verification, an onboarding, …).
 */
export function toHttpError(err: unknown, id: string, what = 'verification'): Error {
  if (err instanceof HttpException) return err;
  if (err instanceof WorkflowNotFoundError) return new NotFoundException(`${what} ${id} not found`);
  if (err instanceof WorkflowUpdateFailedError) return updateFailureToHttp(err.cause);
  if (isUnavailable(err)) return new ServiceUnavailableException('Temporal is unreachable; retry later');
  return err instanceof Error ? err : new Error(String(err));
}
