/**
 * Pieces every verifyflow workflow uses the same way. Deterministic, Node-free (workflow bundle).
 */
import {
  ApplicationFailure,
  condition,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import type { SearchAttributePair, UpdateDefinition } from '@temporalio/common';
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
  return withSummaries<A>(proxyActivities<A>(options) as unknown as Record<string, WithOptions>, options);
}

/**
 * The same for local activities: run by the worker inside the workflow task that calls them (no activity task, no
 * second workflow task), their answer recorded as a marker. Only for calls that are safe to run again: a workflow task
 * that fails (a worker lost, or the server refusing it) runs them again from the first attempt.
 */
export function localActivitiesWithSummaries<A extends Record<string, Activity>>(options: LocalActivityOptions) {
  return withSummaries<A>(proxyLocalActivities<A>(options) as unknown as Record<string, WithOptions>, options);
}

function withSummaries<A extends Record<string, Activity>>(
  acts: Record<string, WithOptions>,
  options: ActivityOptions | LocalActivityOptions,
) {
  return <K extends keyof A & string>(
    name: K,
    summary: string | (ActivityOptions & { summary: string }),
    ...args: Parameters<A[K]>
  ): Promise<Awaited<ReturnType<A[K]>>> =>
    acts[name].executeWithOptions(typeof summary === 'string' ? { ...options, summary } : summary, args) as Promise<
      Awaited<ReturnType<A[K]>>
    >;
}

/**
 * The patch of this release. Every run that starts from now on records this marker and no other (a phone run records
 * `PHONE_RELEASE_PATCH` instead, which stands for this one). It stands for every earlier patch of every workflow
 * (`fewer-billed-actions`, `outbound-events`, `approved-factors-only`, `publish-channel-changes`,
 * `onboarding-step-already-running`), whose new paths such a run takes without asking for them. Each marker costs a
 * run one billed action (Temporal's core upserts `TemporalChangeVersion` with it), so a push verification pays one
 * instead of two, a verification with outbound events one instead of two.
 * docs/CHANGING-WORKFLOWS.md, "One marker per run".
 */
export const RELEASE_PATCH = 'release-2026-12';

/**
 * Whether this run took `RELEASE_PATCH`. Asked once, first thing in the workflow function (before any other patch),
 * and the answer passed on: an older run replays it as false and asks for its own patches where it always did.
 */
export const tookReleasePatch = (): boolean => patched(RELEASE_PATCH);

/**
 * The release after `RELEASE_PATCH`, for `phoneVerification` only (the one workflow it changes): asked for before it
 * and standing for it, so a new phone run again records one marker. It adds code checks made inside the check
 * update's own workflow task (local activities; docs/CHANGING-WORKFLOWS.md, "One marker per run").
 */
export const PHONE_RELEASE_PATCH = 'release-2026-12-05';

/**
 * The phone release after `PHONE_RELEASE_PATCH`, asked for before it and standing for it (and so for every earlier
 * one): a new phone run records this marker alone. It adds Vonage requests created inside the workflow task that asks
 * for them (a local activity): an SMS verification then has no activity task and no workflow task of its own for the
 * send (docs/CHANGING-WORKFLOWS.md, "One marker per run").
 */
export const PHONE_STARTS_PATCH = 'release-2026-12-05-starts';

/**
 * The release after `RELEASE_PATCH` for `pushVerification`, asked for before it and standing for it: a new push run
 * records this marker alone. Its challenge carries the run's ID in `hidden_details`, by which Twilio's webhooks are
 * routed, so the challenge's ref is published with the final status (one upsert less) and no earlier; a webhook that
 * overtakes the challenge's activity result is held until the run knows its challenge (docs/push.md, "Webhooks").
 */
export const PUSH_RELEASE_PATCH = 'release-2026-12-05-push';

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

/** The first ApplicationFailure in an error's cause chain (activity failures wrap it). */
function applicationFailureOf(err: unknown): ApplicationFailure | undefined {
  for (let e: unknown = err; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    if (e instanceof ApplicationFailure) return e;
  }
  return undefined;
}

/** The `type` of the ApplicationFailure in an error's cause chain (activity failures wrap it). */
export function failureType(err: unknown): string | undefined {
  return applicationFailureOf(err)?.type ?? undefined;
}

/**
 * Whether an activity's failure may pass if the call is made again: not when the ApplicationFailure in its cause chain
 * says it is non-retryable (a refusal, an invalid destination, a provider's rejection); a timeout or an outage may.
 */
export function isRetryable(err: unknown): boolean {
  return !applicationFailureOf(err)?.nonRetryable;
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
  state: S | (() => S),
  requestCancel: () => void,
  what?: string,
): void {
  const current = typeof state === 'function' ? state : () => state;
  setHandler(
    update,
    async () => {
      requestCancel();
      await condition(() => isTerminal(current().status));
      return current();
    },
    { validator: (req) => validateCancel(req, current().status, what) },
  );
}

/** Where the inbox sends an event it has not seen while the run still takes events. */
export type InboxRoute = 'deliver' | 'hold' | { drop: string };

/** The inbox's log lines (the workflow logger by default; tests pass their own). */
export type InboxLog = Pick<typeof log, 'info' | 'warn'>;

export interface InboxOptions<E extends { eventId: string }> {
  /** The kind's event schema: a malformed event is logged and dropped (a signal cannot be rejected). */
  schema: z.ZodType<E>;
  /** Applies an event to the run. */
  deliver: (event: E) => void;
  /**
   * Where a fresh event goes: `deliver`; `hold` while the run does not yet know the provider request, session or
   * challenge it is about (until `release()`); or dropped with a log line saying why. Default: deliver.
   */
  route?: (event: E) => InboxRoute;
  /** The run takes no more events (it is over, or already has its answer): they are dropped. Default: never. */
  isOver?: () => boolean;
  /** Event ids seen by an earlier run of this workflow (carried over continue-as-new). */
  seen?: readonly string[];
  /** Event ids remembered for deduplication, the oldest forgotten first. Default 1000. */
  maxSeen?: number;
  /** Events held at most; more are dropped. Default 20. */
  maxHeld?: number;
  log?: InboxLog;
}

/** The provider-event prelude every workflow shares; `receive` is the signal handler. */
export interface ProviderInbox {
  /** Parses, drops duplicates (by `eventId`) and events of a run that is over, then routes the event. */
  receive(raw: unknown): void;
  /** Routes the held events again, in arrival order, now that the run knows more: delivered, still held, or dropped. */
  release(): void;
  /** The newest `limit` event ids seen, oldest first (to carry over continue-as-new). */
  seenIds(limit?: number): string[];
  /** Well-formed events this run had not seen before (duplicates and malformed ones excluded). */
  readonly received: number;
  /** Events held now. */
  readonly held: number;
}

/**
 * One provider-event inbox: parse with the kind's schema (malformed → log line, dropped), dedupe by `eventId` with
 * bounded memory, drop events once the run is over, and hold events that overtook the activity result naming what they
 * are about until `release()`. Deterministic and free of Temporal calls except its log lines.
 */
export function createInbox<E extends { eventId: string }>(options: InboxOptions<E>): ProviderInbox {
  const { schema, deliver, route = () => 'deliver', isOver = () => false } = options;
  const maxSeen = options.maxSeen ?? 1000;
  const maxHeld = options.maxHeld ?? 20;
  const logger = options.log ?? log;
  const seen = new Set<string>();
  const held: E[] = [];
  let received = 0;

  const remember = (eventId: string): void => {
    seen.add(eventId);
    // A Set iterates in insertion order: the first one is the oldest.
    if (seen.size > maxSeen) seen.delete(seen.values().next().value!);
  };
  const dispatch = (event: E): void => {
    const where = route(event);
    if (where === 'deliver') deliver(event);
    else if (where !== 'hold') logger.info(where.drop, { eventId: event.eventId });
    else if (held.length < maxHeld) held.push(event);
    else logger.info('provider event dropped: too many held', { eventId: event.eventId });
  };
  for (const id of options.seen ?? []) remember(id);

  return {
    receive(raw) {
      const parsed = schema.safeParse(raw);
      if (!parsed.success) {
        logger.warn('malformed provider event dropped', { issues: formatIssues(parsed.error) });
        return;
      }
      const event = parsed.data;
      if (seen.has(event.eventId)) return;
      remember(event.eventId);
      received++;
      if (!isOver()) dispatch(event);
    },
    release() {
      for (const event of held.splice(0)) if (!isOver()) dispatch(event);
    },
    seenIds(limit = maxSeen) {
      return limit > 0 ? [...seen].slice(-limit) : [];
    },
    get received() {
      return received;
    },
    get held() {
      return held.length;
    },
  };
}

/**
 * Vonage's `client_ref` holds at most 40 characters: a workflow ID that fits travels with the request and routes its
 * callbacks; a longer one is routed by the `VerificationProviderRef` search attribute, which must then be published as
 * soon as the request exists.
 */
export const CLIENT_REF_MAX_LENGTH = 40;

const sameValue = (a: unknown, b: unknown): boolean =>
  Array.isArray(a) && Array.isArray(b)
    ? a.length === b.length && a.every((v, i) => v === b[i])
    : a instanceof Date && b instanceof Date
      ? a.getTime() === b.getTime()
      : a === b;

/**
 * Upserts those of `pairs` whose value the run's search attributes do not hold yet — what the start set counts, as does
 * every earlier upsert (the SDK keeps `workflowInfo().typedSearchAttributes` current). Each upsert is a billed action
 * and a visibility write: nothing is published that is already said. Returns whether it upserted.
 */
export function publishChanged(pairs: SearchAttributePair[]): boolean {
  const current = workflowInfo().typedSearchAttributes;
  const changed = pairs.filter((p) => !sameValue(current.get(p.key), p.value));
  if (!changed.length) return false;
  upsertSearchAttributes(changed);
  return true;
}
