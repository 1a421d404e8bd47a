/**
 * Pieces every verifyflow workflow uses the same way. Deterministic, Node-free (workflow bundle).
 */
import { ApplicationFailure, condition, proxyActivities, setHandler, type ActivityOptions } from '@temporalio/workflow';
import type { UpdateDefinition } from '@temporalio/common';
import type { z } from 'zod';
import {
  type CancelInput,
  FailureType,
  formatIssues,
  isTerminal,
  shared,
  type VerificationStatus,
} from './contract/common';

/**
 * Creating a provider request (a message goes out): retried with backoff for as long as `budgetSeconds` allows, not
 * for a number of attempts, so a provider outage of a minute delays the message instead of failing the channel. A
 * Retry-After the adapter reads becomes the next delay.
 */
export const providerSendOptions = (budgetSeconds: number): ActivityOptions => ({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: `${Math.max(5, Math.floor(budgetSeconds))}s`,
  // Unlimited attempts, explicitly: executeWithOptions merges these options into the proxy's (5 attempts).
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: Infinity },
});

/** Provider calls: outages (429/5xx/network) retried with backoff; the adapters turn Retry-After into the next delay. */
export const PROVIDER_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Activity = (...args: any[]) => Promise<unknown>;
type WithOptions = { executeWithOptions(options: ActivityOptions, args: unknown[]): Promise<unknown> };

/**
 * A typed caller of activities `A` whose every call carries a summary the Temporal UI shows next to it: either a
 * text (with `options`), or options of its own plus the summary.
 */
export function activitiesWithSummaries<A extends Record<string, Activity>>(options: ActivityOptions) {
  const acts = proxyActivities<A>(options) as unknown as Record<string, WithOptions>;
  return <K extends keyof A & string>(
    name: K,
    summary: string | (ActivityOptions & { summary: string }),
    ...args: Parameters<A[K]>
  ): Promise<Awaited<ReturnType<A[K]>>> =>
    acts[name].executeWithOptions(typeof summary === 'string' ? { ...options, summary } : summary, args) as Promise<
      Awaited<ReturnType<A[K]>>
    >;
}

/** The workflow's input, validated with its contract schema; else a non-retryable `InvalidInput` naming each field. */
export function parseInput<S extends z.ZodType>(schema: S, raw: unknown, workflowType: string): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw ApplicationFailure.create({
    type: FailureType.InvalidInput,
    message: `invalid ${workflowType} input: ${formatIssues(parsed.error)}`,
    nonRetryable: true,
  });
}

/** The `type` of the ApplicationFailure in an error's cause chain (activity failures wrap it). */
export function failureType(err: unknown): string | undefined {
  for (let e: unknown = err; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    if (e instanceof ApplicationFailure) return e.type ?? undefined;
  }
  return undefined;
}

/**
 * What a send or check activity needs to ask the abuse guard: who asks (the API client; `temporal` for Temporal callers
 * without one) and the destination (phone number or e-mail address; hashed by the guard, never stored in clear).
 * `counted`: the REST API already counted this send before starting the run (its first send only).
 */
export interface GuardParams {
  client: string;
  to: string;
  counted?: boolean;
}
/** The client id the guard counts sends of Temporal callers under when their input names no client. */
export const TEMPORAL_CALLER_CLIENT = 'temporal';

/**
 * The abuse guard's refusal in an error's cause chain (activity failures wrap it): the non-retryable
 * ApplicationFailure of type RateLimited or DestinationNotAllowed, with its details (`[{scope, retryAfterSeconds}]`).
 */
export function findRefusal(err: unknown): ApplicationFailure | undefined {
  for (let e: unknown = err; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    if (
      e instanceof ApplicationFailure &&
      (e.type === FailureType.RateLimited || e.type === FailureType.DestinationNotAllowed)
    ) {
      return e;
    }
  }
  return undefined;
}

/** The same refusal, raised again from an update handler so the caller gets it (the REST API answers 429/422). */
export function rethrowRefusal(refusal: ApplicationFailure): ApplicationFailure {
  return ApplicationFailure.create({
    type: refusal.type ?? FailureType.RateLimited,
    message: refusal.message,
    details: refusal.details ? [...refusal.details] : undefined,
    nonRetryable: true,
  });
}

/** Update validators' guard: a run that is over takes no more updates (rejected before history, `NotLive`). */
export function rejectIfNotLive(status: VerificationStatus, what = 'verification'): void {
  if (isTerminal(status)) {
    throw ApplicationFailure.create({ type: FailureType.NotLive, message: `${what} is ${status}`, nonRetryable: true });
  }
}

/** The `cancel` update's validator, the same in every workflow: a well-formed (or omitted) argument, a live run. */
export function validateCancel(req: unknown, status: VerificationStatus, what?: string): void {
  const r = shared.cancelInput().safeParse(req ?? {});
  if (!r.success) throw new Error(formatIssues(r.error));
  rejectIfNotLive(status, what);
}

/**
 * Registers a workflow's cancel update: the validator refuses bad input and runs that are over (`validateCancel`);
 * the handler asks the workflow to stop (`requestCancel`: set its flag, cancel its scopes, wake its loop) and answers
 * with the state once it is terminal.
 */
export function setCancelHandler<S extends { status: VerificationStatus }>(
  update: UpdateDefinition<S, [CancelInput]>,
  state: S,
  requestCancel: () => void,
  what?: string,
): void {
  setHandler(
    update,
    async () => {
      requestCancel();
      await condition(() => isTerminal(state.status));
      return state;
    },
    { validator: (req) => validateCancel(req, state.status, what) },
  );
}
