/**
 * The contract of `pushVerification`: one Twilio Verify Push challenge on the user's enrolled device, resent while
 * unanswered, polled when no webhook answers, with a `phoneVerification` child as fallback. Deterministic and
 * Node-free; its schemas are built on the first `schemas()` call.
 */
import { z } from 'zod';
import {
  LIVE_STATUSES,
  REASONS,
  TERMINAL_STATUSES,
  shared,
  verificationIdFor,
  verificationIdPattern,
  type CancelInput,
  type PushProviderEvent,
} from './common';
import { lazy, query, signal, update, type WorkflowContract } from './descriptor';
import { eventDeliveryContract } from './events';
import { phoneContract } from './phone';

/** Twilio's limit on a challenge's `hidden_details`, as JSON. */
const HIDDEN_DETAILS_MAX = 1024;

/**
 * The key of a push challenge's `hidden_details` that carries the verification's workflow ID: Twilio echoes
 * `hidden_details` in its `challenge.*` webhooks, which are then routed to the run without a lookup. Reserved: the
 * REST API refuses a caller's `hiddenDetails` that set it.
 */
export const PUSH_ROUTING_KEY = 'verifyflow_id';

/**
 * The caller's hidden details with the run's ID under `PUSH_ROUTING_KEY` (set last: it is ours), or undefined when
 * the two no longer fit Twilio's 1 024 characters as JSON (the run then publishes the challenge's ref at once, and its
 * webhooks are found by it).
 */
export function hiddenDetailsWithId(
  hidden: Record<string, string> | undefined,
  pushId: string,
): Record<string, string> | undefined {
  const merged = { ...hidden, [PUSH_ROUTING_KEY]: pushId };
  return JSON.stringify(merged).length <= HIDDEN_DETAILS_MAX ? merged : undefined;
}

const schemas = lazy('push', () => {
  const detailField = z.strictObject({
    label: z.string().trim().min(1).max(36),
    value: z.string().min(1).max(128),
  });

  const input = z.strictObject({
    identity: shared.pushIdentity(),
    /** The factor to challenge; else the identity's newest verified push factor. */
    factorSid: shared.factorSid().optional(),
    /** Shown to the user with the push notification. */
    message: z.string().trim().min(1).max(256),
    fields: z.array(detailField).max(20).optional(),
    /** Context not shown to the user (string values only, at most 1024 characters as JSON). */
    hiddenDetails: z
      .record(z.string(), z.string())
      .refine((v) => JSON.stringify(v).length <= HIDDEN_DETAILS_MAX, 'must be at most 1024 characters as JSON')
      .optional(),
    expirySeconds: z.number().int().min(3).max(3600).optional(),
    /** Resend the notification of the same challenge when unanswered this long (and again after as long). */
    resendAfterSeconds: z.number().int().min(1).max(3600).optional(),
    pollIntervalSeconds: z.number().int().min(1).max(600).optional(),
    /** Runs as a child `phoneVerification` when the challenge expires or the identity has no verified factor. */
    fallback: phoneContract.schemas().input.omit({ events: true }).optional(),
    /** Also fall back when the user denies the challenge (default false: a denial is final). */
    fallbackOnDeny: z.boolean().optional(),
    reference: shared
      .reference()
      .refine((v) => !v.startsWith('enrollment-'), 'must not start with enrollment- (reserved for enrollments)')
      .optional(),
    /** The API client that started it (set by the REST API, never by its callers); the fallback inherits it. */
    client: shared.clientId().optional(),
    /** Outbound events of this verification (set by the REST API when the client has an events endpoint). */
    events: eventDeliveryContract.schemas().option.optional(),
  });

  /** What the push `getState` query returns: never the identity, the message or the phone number. ISO timestamps. */
  const state = z.object({
    id: z.string(),
    kind: z.literal('push'),
    client: z.string().optional(),
    status: z.enum([...LIVE_STATUSES, ...TERMINAL_STATUSES]),
    reason: z.enum(REASONS).optional(),
    challengeSid: z.string().optional(),
    factorSid: z.string().optional(),
    /** Notifications resent for the challenge (Notifications resource, never a second challenge). */
    resends: z.number().int(),
    /** Why push itself did not complete (`expired`, `no_verified_factor`, `user_denied`) when a fallback ran. */
    pushReason: z.enum(REASONS).optional(),
    /** Workflow ID of the fallback `phoneVerification` child, once started. */
    fallbackId: z.string().optional(),
    expiresAt: z.string(),
    startedAt: z.string(),
    updatedAt: z.string(),
  });

  return {
    input,
    /** Result of `pushVerification`: the final state (status and reason of the fallback when one ran). */
    result: state,
    state,
    cancelInput: shared.cancelInput(),
    providerEvent: shared.pushProviderEvent(),
  };
});

type Schemas = ReturnType<typeof schemas>;
/** Input of `pushVerification`. Only `identity` and `message` are required. */
export type PushVerificationInput = z.input<Schemas['input']>;
export type PushVerificationState = z.infer<Schemas['state']>;
/** Result of `pushVerification`: the final state (status and reason of the fallback when one ran). */
export type PushVerificationResult = PushVerificationState;

/** The push verification's contract (see WorkflowContract). */
export const pushContract = {
  type: 'pushVerification',
  kind: 'push' as const,
  summary:
    'Verifies a user with one Twilio Verify Push challenge on their enrolled device. Unanswered after ' +
    '`resendAfterSeconds`: its notification is resent (never a second challenge). `challenge.approved` → ' +
    '`completed`; `challenge.denied` → `failed` / `user_denied`; expiry or no verified factor → the `fallback` ' +
    '`phoneVerification` runs as a child (ID `phone-<id without push->`) and its result becomes ours. Without ' +
    'webhooks the challenge is polled every `pollIntervalSeconds`.',
  idPrefix: 'push',
  // `push-enrollment-…` is pushEnrollment's: no push reference may start with `enrollment-`.
  idPattern: verificationIdPattern('push', 34, 'enrollment-'),
  idScheme:
    '`push-<client>-<reference>` (`push-<reference>` without a client; start with conflict policy USE_EXISTING: a ' +
    'repeat joins the running one); random: `push-<client>-<20 hex>`',
  /** Workflow ID of a push verification: `push-<client>-<reference>` (idempotent start), else a random key. */
  id: (referenceOrRandom: string, client?: string): string => verificationIdFor('push', referenceOrRandom, client),
  helpers: {
    /** Workflow ID of the fallback `phoneVerification` child: `phone-<push id without push->` (≤ 40 chars). */
    fallbackId: (pushId: string): string => `phone-${pushId.replace(/^push-/, '')}`,
  },
  schemas,
  messages: {
    /** Cancel a live push verification (and its fallback). Returns the final state. */
    cancel: update<PushVerificationState, [CancelInput]>('cancel', {
      summary: 'Cancel (the fallback child too). The argument may be omitted.',
      input: () => schemas().cancelInput,
      result: () => schemas().state,
    }),
    /** Twilio Verify Push `challenge.*` webhooks. */
    providerEvent: signal<[PushProviderEvent]>('providerEvent', {
      summary: 'A Twilio `challenge.*` webhook (sent by /webhooks/twilio); deduplicated by eventId.',
      input: () => schemas().providerEvent,
    }),
    /** The state of a `pushVerification` (same query name as every verification). */
    getState: query<PushVerificationState>('getState', {
      summary: 'The current state.',
      result: () => schemas().state,
    }),
  },
  defaults: {
    /** Push challenges expire after 5 minutes by default, 60 at most (Twilio Verify Push). */
    expirySeconds: 300,
    /** How often the workflow fetches the challenge when no webhook has answered (webhooks are optional at Twilio). */
    pollIntervalSeconds: 15,
    /** Notifications resent for one challenge at most (with the first push that makes Twilio's 5 sends). */
    maxResends: 4,
  },
} satisfies WorkflowContract;
