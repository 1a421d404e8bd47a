import { ApplicationFailure } from '@temporalio/common';

/**
 * The durable abuse guard as activities and the API see it: a narrow interface and its typed failure. The
 * implementation (rate-limiter-flexible over Redis, or memory in the single-process embedded mode) lives in
 * src/auth/abuse-guard.ts; nothing here imports a store, so workers and workflow-side code can depend on this alone.
 */

/** Which limit refused: sends per destination, per destination per day, per number prefix, per client, failed checks. */
export type GuardScope = 'destination' | 'destination_day' | 'prefix' | 'client' | 'failed_checks';
export const GUARD_SCOPES: readonly GuardScope[] = [
  'destination',
  'destination_day',
  'prefix',
  'client',
  'failed_checks',
];

export type GuardVerdict =
  | { allowed: true }
  | { allowed: false; scope: GuardScope; retryAfterSeconds: number }
  | { allowed: false; scope: 'country'; reason: 'destination_not_allowed' };

/** A refused verdict. */
export type GuardRefusal = Exclude<GuardVerdict, { allowed: true }>;

/** `type` of the non-retryable ApplicationFailure raised for a refused verdict. */
export enum GuardFailureType {
  /** A send or check limit is exhausted; details say which scope and when to retry. */
  RateLimited = 'RateLimited',
  /** The destination's country is not among the allowed countries: retrying cannot help. */
  DestinationNotAllowed = 'DestinationNotAllowed',
}

/**
 * How long the guard's store remembers a provider request that a code check of ours completed: longer than a check
 * activity retries (`providerRetrySeconds`, at most 15 minutes) and than a provider retries a callback.
 */
export const COMPLETED_BY_CHECK_SECONDS = 3600;

/**
 * How long the guard's store remembers that a provider start began (`startBegun`): longer than a start is retried
 * (`providerRetrySeconds`, at most 15 minutes) and than a lost workflow task takes to run again.
 */
export const START_BEGUN_SECONDS = 3600;

/**
 * Limits on sending verification codes and checking them, shared by every API and worker replica. Destinations are
 * E.164 phone numbers or e-mail addresses; `client` is the API client's id.
 */
export interface AbuseGuard {
  /** Counts one send to `destination` by `client` in every send scope (destination, destination_day, prefix, client). Refuses — counting nothing — when any scope is exhausted, the destination is locked by failed checks, or its country is not allowed. */
  consumeSend(client: string, destination: string): Promise<GuardVerdict>;
  /** Gives back one send counted by consumeSend (e.g. a start that then did not happen). */
  refundSend(client: string, destination: string): Promise<void>;
  /** Whether a send would be allowed now, counting nothing. */
  peekSend(client: string, destination: string): Promise<GuardVerdict>;
  /** Whether a code for `destination` may be checked now (refused while failed checks are exhausted). */
  checkAllowed(client: string, destination: string): Promise<GuardVerdict>;
  /**
   * Notes for `seconds` that `client` started run `runId`, whose codes are checked against `destination` (kept as its
   * HMAC, like every key): the REST API's checks then read the run's owner and destination here instead of describing
   * the run. Optional: a guard without notes leaves every check to describe its run.
   */
  noteRun?(runId: string, client: string, destination: string, seconds: number): Promise<void>;
  /**
   * For a run noted as `client`'s (`noteRun`): whether a code may be checked now, as `checkAllowed` answers for its
   * destination. Undefined when the store holds no such note (never noted, expired, or another client's run).
   */
  checkAllowedForRun?(runId: string, client: string): Promise<GuardVerdict | undefined>;
  /** Whether the store holds a note that `client` started run `runId` (`noteRun`): its owner, without a describe. */
  isNotedRun?(runId: string, client: string): Promise<boolean>;
  /** Counts one failed check (wrong code) against `destination`. */
  recordFailedCheck(client: string, destination: string): Promise<void>;
  /**
   * Before a code is checked: counts it as a failed check in advance, atomically, or refuses (scope `failed_checks`,
   * counting nothing) when the destination's failed checks are used up — so concurrent checks can never evaluate more
   * wrong codes than the limit. A code that turns out right gives its point back with `releaseCheck`.
   */
  reserveCheck(client: string, destination: string): Promise<GuardVerdict>;
  /** Gives back the point `reserveCheck` took for a code that was right. */
  releaseCheck(client: string, destination: string): Promise<void>;
  /**
   * Remembers for `COMPLETED_BY_CHECK_SECONDS` that a code check of ours completed the provider request `ref`
   * (`provider:id`, e.g. `vonage:<request_id>`). The provider's `completed` callback that follows then tells the run
   * nothing it does not know, and a retried check that finds the request gone learns that its lost earlier attempt
   * completed it.
   */
  noteCompletedByCheck(ref: string): Promise<void>;
  /** Whether a code check of ours completed the provider request `ref` (`noteCompletedByCheck`) not long ago. */
  completedByCheck(ref: string): Promise<boolean>;
  /**
   * Notes, for `START_BEGUN_SECONDS`, that the provider start `key` (one start of one run) begins; true when it had
   * begun before. A start made inside a workflow task (a local activity) runs again from its first attempt when that
   * task is lost, so this, not the attempt number, tells it that an earlier run of it may have sent already.
   */
  startBegun(key: string): Promise<boolean>;
  /** Forgets that start `key` began (it was refused before it sent anything, so running it again must count again). */
  forgetStart(key: string): Promise<void>;
  close(): Promise<void>;
}

const SCOPE_TEXT: Record<GuardScope, string> = {
  destination: 'too many codes sent to this destination',
  destination_day: 'too many codes sent to this destination today',
  prefix: 'too many codes sent to numbers of this range',
  client: 'too many codes sent by this client',
  failed_checks: 'too many wrong codes checked for this destination',
};

/** The non-retryable ApplicationFailure an activity throws for a refused verdict: type 'RateLimited' (or 'DestinationNotAllowed' for country), message naming the scope, details [{ scope, retryAfterSeconds }]. */
export function guardRefusal(verdict: Exclude<GuardVerdict, { allowed: true }>): ApplicationFailure {
  if (verdict.scope === 'country') {
    return ApplicationFailure.create({
      type: GuardFailureType.DestinationNotAllowed,
      message: 'refused (scope country): the destination is not in an allowed country',
      nonRetryable: true,
      details: [{ scope: 'country', reason: verdict.reason }],
    });
  }
  return ApplicationFailure.create({
    type: GuardFailureType.RateLimited,
    message: `rate limited (scope ${verdict.scope}): ${SCOPE_TEXT[verdict.scope]}; retry in ${verdict.retryAfterSeconds} s`,
    nonRetryable: true,
    details: [{ scope: verdict.scope, retryAfterSeconds: verdict.retryAfterSeconds }],
  });
}

/**
 * Reads the refusal back out of an error's cause chain (activity failures wrap it): the verdict, or undefined.
 *
 * Plain property reads over the chain (no Node built-ins, no class identity): workflow code can use it as is, and a
 * failure that crossed the wire (details decoded from payloads) is read the same way as one thrown in process.
 */
export function refusalOf(err: unknown): Exclude<GuardVerdict, { allowed: true }> | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 16 && e !== null && typeof e === 'object'; depth++) {
    const { type, details, cause } = e as { type?: unknown; details?: unknown; cause?: unknown };
    const detail: unknown = Array.isArray(details) ? details[0] : undefined;
    const d = (detail !== null && typeof detail === 'object' ? detail : {}) as Record<string, unknown>;
    if (type === GuardFailureType.DestinationNotAllowed) {
      return { allowed: false, scope: 'country', reason: 'destination_not_allowed' };
    }
    if (type === GuardFailureType.RateLimited && GUARD_SCOPES.includes(d.scope as GuardScope)) {
      const seconds = typeof d.retryAfterSeconds === 'number' && Number.isFinite(d.retryAfterSeconds);
      return {
        allowed: false,
        scope: d.scope as GuardScope,
        retryAfterSeconds: seconds ? Math.max(1, Math.ceil(d.retryAfterSeconds as number)) : 1,
      };
    }
    e = cause;
  }
  return undefined;
}
