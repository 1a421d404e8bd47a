/**
 * The contract of `pushEnrollment`: one per Twilio Verify Push entity, following its factors (`factor.created` →
 * `factor.verified`, `factor.deleted`) and the approval of factors enrolled beside a verified one. Deterministic and
 * Node-free; its schemas are built on the first `schemas()` call.
 */
import { z } from 'zod';
import { shared, type PushProviderEvent } from './common';
import { lazy, query, signal, update, type WorkflowContract } from './descriptor';

/**
 * A push factor of the identity: `unverified` (created, not verified at Twilio), `pending_approval` (verified at
 * Twilio while the identity already had a verified factor: it receives no challenge until approved — by a push
 * challenge approved on an existing verified factor, or by a completed phone verification of the client), `verified`
 * (challenges go to the newest one). The first factor of an identity is approved when Twilio verifies it.
 */
export const PUSH_FACTOR_STATUSES = ['unverified', 'pending_approval', 'verified'] as const;

const schemas = lazy('push-enrollment', () => {
  const factor = z.object({
    sid: z.string(),
    status: z.enum(PUSH_FACTOR_STATUSES),
    createdAt: z.string(),
    verifiedAt: z.string().optional(),
    /** When and by which completed verification a `pending_approval` factor was approved. */
    approvedAt: z.string().optional(),
    approvedBy: z.string().optional(),
  });

  const input = z.strictObject({
    identity: shared.pushIdentity(),
    /** The API client whose identity this is (its Twilio entity is `<client>-<identity>`); absent for Temporal callers. */
    client: shared.clientId().optional(),
    /** Carried over by continue-as-new: the factors known so far. */
    factors: z.array(factor).max(20).optional(),
    /** Carried over by continue-as-new: an open enrollment window (ISO). */
    deadline: z.string().optional(),
    /** Carried over by continue-as-new: the verifications that approved a factor (each approves one factor, once). */
    approvals: z.array(z.string()).max(100).optional(),
    /** Carried over by continue-as-new: the newest provider event ids seen, so a redelivered webhook stays a duplicate. */
    seenEventIds: z.array(z.string().min(1).max(200)).max(200).optional(),
  });

  const enrollmentRequest = z.strictObject({
    timeoutSeconds: z.number().int().min(1).max(86_400).optional(),
  });

  /**
   * State of the identity's `pushEnrollment`: `pending` (token brokered, no factor yet), `created` (factor created,
   * not verified), `verified` (a verified factor exists: `factorSid` is the newest), `expired` (the enrollment window
   * closed without a verified factor), `removed` (every factor was deleted).
   */
  const state = z.object({
    id: z.string(),
    kind: z.literal('push_enrollment'),
    /** The Twilio entity identity (`<client>-<identity>` for an API client's users). */
    identity: z.string(),
    client: z.string().optional(),
    status: z.enum(['pending', 'created', 'verified', 'expired', 'removed']),
    verified: z.boolean(),
    factorSid: z.string().optional(),
    factors: z.array(factor),
    /** End of the open enrollment window, if any. */
    deadline: z.string().optional(),
    startedAt: z.string(),
    updatedAt: z.string(),
  });

  const approveFactorInput = z.strictObject({
    factorSid: shared.factorSid(),
    /** The completed verification that approves it: a push verification or a phone verification of the same client. */
    verificationId: z.string().min(1).max(200),
    kind: z.enum(['push', 'phone']),
    /** kind `push`: the factor its challenge was approved on (must be a verified factor of this identity). */
    approvedOnFactorSid: shared.factorSid().optional(),
    /** When that verification completed (ISO): it must be after the factor was created. */
    completedAt: z.string(),
  });

  return {
    input,
    result: state,
    state,
    factor,
    enrollmentRequest,
    approveFactorInput,
    providerEvent: shared.pushProviderEvent(),
  };
});

type Schemas = ReturnType<typeof schemas>;
export type PushEnrollmentFactor = z.infer<Schemas['factor']>;
/** Input of `pushEnrollment`: the identity (the rest is continue-as-new state). */
export type PushEnrollmentInput = z.input<Schemas['input']>;
export type EnrollmentRequest = z.infer<Schemas['enrollmentRequest']>;
export type PushEnrollmentState = z.infer<Schemas['state']>;
export type ApproveFactorInput = z.infer<Schemas['approveFactorInput']>;

/** The push enrollment's contract (see WorkflowContract). */
export const pushEnrollmentContract = {
  type: 'pushEnrollment',
  kind: 'push_enrollment' as const,
  summary:
    "One per identity: follows the identity's push factors through `factor.created` → `factor.verified` (and " +
    '`factor.deleted`) so the platform can ask for a verified factor without calling Twilio. An access-token ' +
    'request opens an enrollment window (signal-with-start `enrollmentRequested`); it ends `expired` when the ' +
    'window closes unverified, `removed` when every factor was deleted, and runs on while a verified factor exists. ' +
    'A factor verified while the identity already has one is `pending_approval` (no challenge) until `approveFactor`.',
  idPrefix: 'push-enrollment',
  // The Twilio entity identity: 8-64 dash-separated letters and digits (`<client>-<identity>` included).
  idPattern: /^push-enrollment-(?=[A-Za-z0-9-]{8,64}$)[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$/,
  idScheme: "`push-enrollment-<entity identity>` (an API client's users: `<client>-<identity>`)",
  /** Workflow ID of the identity's enrollment: one per Twilio entity identity. */
  id: (entityIdentity: string): string => `push-enrollment-${entityIdentity}`,
  helpers: {
    /** The Twilio entity identity of an API client's user: `<client>-<identity>` (Twilio's 8-64 dash-separated rule). */
    entityIdentity: (identity: string, client?: string): string => (client ? `${client}-${identity}` : identity),
  },
  schemas,
  messages: {
    /**
     * Approves a `pending_approval` factor (validated: the factor waits for approval; a push approval was given on a
     * verified factor of this identity; the verification completed after the factor was created and approved nothing
     * before). Returns the enrollment state.
     */
    approveFactor: update<PushEnrollmentState, [ApproveFactorInput]>('approveFactor', {
      summary:
        'Approve a `pending_approval` factor with a completed verification: a push approved on another verified ' +
        'factor of the identity, or a phone verification; it must have completed after the factor was created and ' +
        'approves one factor once (else `ApprovalRefused`).',
      input: () => schemas().approveFactorInput,
      result: () => schemas().state,
    }),
    /** A device asked for an access token: open (or extend) the enrollment window. Used with signalWithStart. */
    enrollmentRequested: signal<[EnrollmentRequest]>('enrollmentRequested', {
      summary: 'A device got an access token: open or extend the enrollment window (default 600 s).',
      input: () => schemas().enrollmentRequest,
    }),
    /** Twilio Verify Push `factor.*` webhooks. */
    providerEvent: signal<[PushProviderEvent]>('providerEvent', {
      summary:
        'A Twilio `factor.*` webhook (sent by /webhooks/twilio with signal-with-start); deduplicated by eventId.',
      input: () => schemas().providerEvent,
    }),
    /** The identity's enrollment state. */
    getState: query<PushEnrollmentState>('getState', {
      summary: 'The enrollment state.',
      result: () => schemas().state,
    }),
  },
  defaults: {
    /** How long an enrollment (access token brokered) waits for factor.created → factor.verified. */
    timeoutSeconds: 600,
  },
} satisfies WorkflowContract;
