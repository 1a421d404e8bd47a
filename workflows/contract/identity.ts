/**
 * The contract of `identityVerification`: an identity document (or ID number) checked with Stripe Identity, one
 * VerificationSession reused across the user's retries, a deadline, verified outputs in the result only.
 * Deterministic and Node-free; its schemas are built on the first `schemas()` call.
 */
import { z } from 'zod';
import {
  LIVE_STATUSES,
  TERMINAL_STATUSES,
  shared,
  verificationIdFor,
  verificationIdPattern,
  type CancelInput,
  type IdentityProviderEvent,
} from './common';
import { lazy, query, signal, update, type WorkflowContract } from './descriptor';
import { eventDeliveryContract } from './events';
import { identityRedactionContract, type IdentityRedactionInfo, type RedactInput } from './identity-redaction';

/** The identity document types Stripe Identity accepts in `options.document.allowed_types`. */
export const IDENTITY_DOCUMENT_TYPES = ['driving_license', 'id_card', 'passport'] as const;
/** Stripe VerificationSession `type`s we start. */
export const IDENTITY_CHECK_TYPES = ['document', 'id_number'] as const;

/**
 * `last_error.code` values that end an identity verification at once: the user cannot fix them by trying again
 * (Stripe Identity's verification session errors, and the e-mail/phone declines that are consent declines of their
 * own).
 */
export const STRIPE_IDENTITY_TERMINAL_CODES = [
  'consent_declined',
  'under_supported_age',
  'country_not_supported',
  'email_verification_declined',
  'phone_verification_declined',
] as const;
/**
 * `last_error.code` values the user can correct (Stripe Identity's document, selfie, ID number and address check
 * errors): each counts as one attempt on the same session; when `maxAttempts` are used up the verification fails
 * with the code.
 */
export const STRIPE_IDENTITY_CORRECTABLE_CODES = [
  'document_expired',
  'document_unverified_other',
  'document_type_not_supported',
  'selfie_document_missing_photo',
  'selfie_face_mismatch',
  'selfie_unverified_other',
  'selfie_manipulated',
  'id_number_unverified_other',
  'id_number_insufficient_document_data',
  'id_number_mismatch',
  'address_mismatch',
  'email_unverified_other',
  'phone_unverified_other',
] as const;
/** `last_error.code` values where no check ran (the user left the flow or used an unsupported device): not counted. */
export const STRIPE_IDENTITY_UNCOUNTED_CODES = ['abandoned', 'device_not_supported'] as const;
export type StripeIdentityErrorCode =
  | (typeof STRIPE_IDENTITY_TERMINAL_CODES)[number]
  | (typeof STRIPE_IDENTITY_CORRECTABLE_CODES)[number]
  | (typeof STRIPE_IDENTITY_UNCOUNTED_CODES)[number];

/**
 * Reasons of a terminal identity verification: `verified`; a Stripe `last_error.code` (terminal at once, or the
 * last correctable one when `maxAttempts` ran out); `max_attempts` (attempts ran out on codes this version does not
 * know); `expected_mismatch` (verified, but the outputs differ from `expected`); `expired`; `cancelled`; `redacted`
 * (redaction requested while live); `provider_error` (Stripe refused to create the session).
 */
export const IDENTITY_REASONS = [
  'verified',
  'max_attempts',
  'expected_mismatch',
  'expired',
  'cancelled',
  'redacted',
  'provider_error',
  ...STRIPE_IDENTITY_TERMINAL_CODES,
  ...STRIPE_IDENTITY_CORRECTABLE_CODES,
  ...STRIPE_IDENTITY_UNCOUNTED_CODES,
] as const;
export type IdentityReason = (typeof IDENTITY_REASONS)[number];

/** The rules across fields of an identity input: `options` only with type `document`. */
export const identityRules = <S extends z.ZodType<{ options?: unknown; type: string }>>(schema: S) =>
  schema.refine((i) => i.options === undefined || i.type === 'document', {
    path: ['options'],
    message: 'applies only to type document',
  });

const schemas = lazy('identity', () => {
  const redaction = identityRedactionContract.schemas();

  /** A platform user id (not PII: no names, e-mail addresses or phone numbers): the workflow ID derives from it. */
  const reference = z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 . _ : - (a platform user id, not PII)');

  const documentOptions = z.strictObject({
    /** Stripe `options.document.allowed_types`. */
    allowedTypes: z.array(z.enum(IDENTITY_DOCUMENT_TYPES)).min(1).max(3).optional(),
    requireLiveCapture: z.boolean().optional(),
    requireMatchingSelfie: z.boolean().optional(),
    requireIdNumber: z.boolean().optional(),
  });

  const dob = z.strictObject({
    year: z.number().int().min(1900).max(2100),
    month: z.number().int().min(1).max(12),
    day: z.number().int().min(1).max(31),
  });

  /** Values to compare with Stripe's verified outputs (PII: they travel only inside the input payload). */
  const expected = z
    .strictObject({
      firstName: z.string().trim().min(1).max(100).optional(),
      lastName: z.string().trim().min(1).max(100).optional(),
      dob: dob.optional(),
    })
    .refine((e) => e.firstName !== undefined || e.lastName !== undefined || e.dob !== undefined, {
      message: 'must name at least one of firstName, lastName, dob',
    });

  /** The fields of `identityVerification`'s input (its rules are added by `identityRules`). */
  const fields = z.strictObject({
    reference,
    type: z.enum(IDENTITY_CHECK_TYPES),
    options: documentOptions.optional(),
    expected: expected.optional(),
    maxAttempts: z.number().int().min(1).max(10).optional(),
    deadlineSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 24 * 3600)
      .optional(),
    returnUrl: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .max(2048)
      .optional(),
    /** Redact the Stripe session this long after the verification ended (a durable timer in a child workflow). */
    redactAfterSeconds: z
      .number()
      .int()
      .min(0)
      .max(10 * 365 * 24 * 3600)
      .optional(),
    /** The API client that started it (set by the REST API, never by its callers). */
    client: shared.clientId().optional(),
    /** Outbound events of this verification (set by the REST API when the client has an events endpoint). */
    events: eventDeliveryContract.schemas().option.optional(),
  });

  /** What `getState` returns for an identity verification: never verified outputs, names or client secrets. */
  const state = z.object({
    id: z.string(),
    kind: z.literal('identity'),
    client: z.string().optional(),
    type: z.enum(IDENTITY_CHECK_TYPES),
    status: z.enum([...LIVE_STATUSES, ...TERMINAL_STATUSES]),
    reason: z.enum(IDENTITY_REASONS).optional(),
    /** The Stripe VerificationSession (`vs_…`), one for the whole verification. */
    sessionId: z.string().optional(),
    /** Stripe's last known session status: requires_input, processing, verified, canceled. */
    sessionStatus: z.string().optional(),
    /** Failed submissions counted so far (one per verification report). */
    attempts: z.number().int(),
    maxAttempts: z.number().int(),
    /** The session's last_error: a Stripe Identity error code and Stripe's user-presentable message. */
    lastError: z.object({ code: z.string(), message: z.string().optional() }).optional(),
    /** The deadline. */
    expiresAt: z.string(),
    startedAt: z.string(),
    updatedAt: z.string(),
    redaction: redaction.info,
  });

  /** Stripe's verified outputs (PII), in the workflow result only. */
  const verifiedOutputs = z.object({
    firstName: z.string().nullable(),
    lastName: z.string().nullable(),
    dob: z.object({ year: z.number().nullable(), month: z.number().nullable(), day: z.number().nullable() }).nullable(),
    address: z
      .object({
        line1: z.string().nullable(),
        line2: z.string().nullable(),
        city: z.string().nullable(),
        state: z.string().nullable(),
        postalCode: z.string().nullable(),
        country: z.string().nullable(),
      })
      .nullable(),
    idNumberType: z.string().nullable(),
  });

  /** Result of `identityVerification`: the final state, plus the verified outputs when completed. */
  const result = state.extend({
    verifiedOutputs: verifiedOutputs.optional(),
    /** With `expected_mismatch`: which expected fields differed (never their values). */
    mismatches: z.array(z.enum(['firstName', 'lastName', 'dob'])).optional(),
  });

  return {
    input: identityRules(fields),
    result,
    fields,
    documentOptions,
    state,
    verifiedOutputs,
    cancelInput: shared.cancelInput(),
    redactInput: redaction.redactInput,
    redactionInfo: redaction.info,
    providerEvent: shared.identityProviderEvent(),
  };
});

type Schemas = ReturnType<typeof schemas>;
/** Input of `identityVerification`. Only `reference` and `type` are required. */
export type IdentityVerificationInput = z.input<Schemas['input']>;
export type IdentityDocumentOptions = z.infer<Schemas['documentOptions']>;
export type IdentityVerificationState = z.infer<Schemas['state']>;
export type IdentityVerifiedOutputs = z.infer<Schemas['verifiedOutputs']>;
export type IdentityVerificationResult = z.infer<Schemas['result']>;

/** The identity verification's contract (see WorkflowContract). */
export const identityContract = {
  type: 'identityVerification',
  kind: 'identity' as const,
  summary:
    'Verifies an identity document (or ID number) with Stripe Identity: one VerificationSession reused across the ' +
    "user's retries, driven by signed webhooks; Stripe Identity's last_error codes (terminal at once, or an " +
    'attempt); a deadline; verified outputs in the result only. The client secret is fetched by the REST API on ' +
    'demand, never in the workflow.',
  idPrefix: 'identity',
  idPattern: verificationIdPattern('identity', 64),
  idScheme:
    '`identity-<client>-<reference>` (`identity-<reference>` without a client; reference = a platform user id, not ' +
    'PII; start with conflict policy USE_EXISTING)',
  /** Workflow ID of an identity verification: `identity-<client>-<reference>` (`identity-<reference>` without a client). */
  id: (reference: string, client?: string): string => verificationIdFor('identity', reference, client),
  schemas,
  messages: {
    /** Cancel a live identity verification (and its Stripe session). Returns the final state. */
    cancel: update<IdentityVerificationState, [CancelInput]>('cancel', {
      summary: 'Cancel (the Stripe session too, when Stripe allows it). The argument may be omitted.',
      input: () => schemas().cancelInput,
      result: () => schemas().state,
    }),
    /**
     * Redact the Stripe session now. On a live `identityVerification` it ends the verification (`cancelled`,
     * `redacted`) and starts the redaction workflow; on an `identityRedaction` it skips the remaining wait.
     */
    redact: update<IdentityRedactionInfo, [RedactInput]>('redact', {
      summary: 'End the verification (`cancelled` / `redacted`) and redact the Stripe session now.',
      input: () => schemas().redactInput,
      result: () => schemas().redactionInfo,
    }),
    /** Stripe identity events (signed webhook → signal). */
    providerEvent: signal<[IdentityProviderEvent]>('providerEvent', {
      summary: 'A Stripe identity.verification_session.* event (sent by /webhooks/stripe); deduplicated by eventId.',
      input: () => schemas().providerEvent,
    }),
    /** The state of an `identityVerification` (same query name as every verification). */
    getState: query<IdentityVerificationState>('getState', {
      summary: 'The current state.',
      result: () => schemas().state,
    }),
  },
  defaults: {
    maxAttempts: 3,
    /** 7 days: how long the user has to complete the verification (the session deadline). */
    deadlineSeconds: 7 * 24 * 3600,
  },
  reasons: IDENTITY_REASONS,
} satisfies WorkflowContract;
