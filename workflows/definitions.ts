/**
 * THE contract of verifyflow: workflow types, their JSON inputs and results, the messages (updates, signals,
 * queries), statuses and reasons, search attribute keys and workflow-ID helpers. Controllers, tests and other
 * teams' code (in any language, see README "Contract") depend on these names; change them only additively.
 *
 * This module is imported by workflow code, so it stays deterministic: no Node built-ins, no I/O.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { isValidPhoneNumber } from 'libphonenumber-js/max';
import { z } from 'zod';

/** Default task queue; configurable with TEMPORAL_TASK_QUEUE. */
export const DEFAULT_TASK_QUEUE = 'verification';

export const VERIFICATION_KINDS = ['phone', 'push', 'identity'] as const;
export type VerificationKind = (typeof VERIFICATION_KINDS)[number];

/** Live statuses, then terminal ones. */
export const LIVE_STATUSES = ['pending', 'action_pending', 'processing'] as const;
export const TERMINAL_STATUSES = ['completed', 'failed', 'expired', 'cancelled'] as const;
export type VerificationStatus = (typeof LIVE_STATUSES)[number] | (typeof TERMINAL_STATUSES)[number];
export const isTerminal = (s: VerificationStatus): boolean => (TERMINAL_STATUSES as readonly string[]).includes(s);

/** Machine-readable reasons that accompany a terminal status. */
export const REASONS = [
  'verified',
  'max_attempts',
  'invalid_destination',
  'all_channels_failed',
  'user_rejected',
  'expired',
  'cancelled',
  'provider_error',
  'user_denied',
  'no_verified_factor',
  'fallback_failed',
] as const;
export type Reason = (typeof REASONS)[number];

/** `type` of the non-retryable ApplicationFailures raised by activities and workflows. */
export enum FailureType {
  InvalidInput = 'InvalidInput',
  InvalidDestination = 'InvalidDestination',
  InvalidProviderRequest = 'InvalidProviderRequest',
  ProviderAuthFailed = 'ProviderAuthFailed',
  ProviderRejected = 'ProviderRejected',
  CodeNotSupported = 'CodeNotSupported',
  NotLive = 'NotLive',
  /** A provider limit was hit (Twilio 60202 max checks, 60203 max sends): retrying cannot help. */
  ProviderLimitReached = 'ProviderLimitReached',
  /** The provider does not know the resource (Twilio 404 / 20404: unknown factor, challenge or entity). */
  ProviderNotFound = 'ProviderNotFound',
}

export const CHANNELS = ['silent_auth', 'sms', 'voice', 'whatsapp', 'email'] as const;
export type Channel = (typeof CHANNELS)[number];
/** Every provider verifyflow talks to (the `provider` half of VerificationProviderRef). */
export const PROVIDERS = ['vonage', 'sms_gateway', 'stripe', 'twilio'] as const;
export type Provider = (typeof PROVIDERS)[number];
/** Providers that can serve a phone channel. */
export const PHONE_PROVIDERS = ['vonage'] as const;
export type PhoneProvider = (typeof PHONE_PROVIDERS)[number];

/** Default per-channel wait, in seconds, before the workflow moves to the next channel. */
export const DEFAULT_CHANNEL_TIMEOUT_SECONDS: Record<Channel, number> = {
  silent_auth: 60,
  sms: 120,
  voice: 120,
  whatsapp: 120,
  email: 300,
};

const e164 = z
  .string()
  .regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 phone number like +14155550100')
  .refine((v) => isValidPhoneNumber(v), 'is not a valid phone number');

/** A reference supplied by the caller: becomes part of the workflow ID, so a repeated start is idempotent. */
export const referenceSchema = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,34}$/, 'must be 1-34 characters of A-Z a-z 0-9 . _ : -');

export const channelSpecSchema = z.strictObject({
  channel: z.enum(CHANNELS),
  provider: z.enum(PHONE_PROVIDERS).default('vonage'),
  timeoutSeconds: z.number().int().min(1).max(900).optional(),
  to: e164.optional(),
});
export type ChannelSpec = z.input<typeof channelSpecSchema>;

export const phoneVerificationInputSchema = z.strictObject({
  to: e164,
  brand: z.string().trim().min(1).max(16),
  channels: z.array(channelSpecSchema).min(1).max(6).optional(),
  codeLength: z.number().int().min(4).max(10).optional(),
  locale: z
    .string()
    .regex(/^[a-z]{2}-[a-z]{2}$/i, 'must look like en-us')
    .optional(),
  expirySeconds: z.number().int().min(5).max(3600).optional(),
  maxCodeAttempts: z.number().int().min(1).max(10).optional(),
  reference: referenceSchema.optional(),
});
/** Input of `phoneVerification`. Only `to` and `brand` are required. */
export type PhoneVerificationInput = z.input<typeof phoneVerificationInputSchema>;

/** The default channel order: silent auth, then SMS, then a voice call. */
export const DEFAULT_PHONE_CHANNELS: ChannelSpec[] = [
  { channel: 'silent_auth', provider: 'vonage' },
  { channel: 'sms', provider: 'vonage' },
  { channel: 'voice', provider: 'vonage' },
];
export const DEFAULT_PHONE_EXPIRY_SECONDS = 600;
export const DEFAULT_MAX_CODE_ATTEMPTS = 5;

/** A channel as the state shows it: never the destination number. */
export const channelStateSchema = z.object({
  channel: z.enum(CHANNELS),
  provider: z.enum(PHONE_PROVIDERS),
  timeoutSeconds: z.number().int(),
  status: z.enum(['waiting', 'active', 'failed', 'skipped', 'completed']),
});
export type ChannelState = z.infer<typeof channelStateSchema>;

/** What `getState` returns for a phone verification, and what the REST API shows. ISO timestamps. */
export const verificationStateSchema = z.object({
  id: z.string(),
  kind: z.enum(VERIFICATION_KINDS),
  status: z.enum([...LIVE_STATUSES, ...TERMINAL_STATUSES]),
  reason: z.enum(REASONS).optional(),
  channel: z.enum(CHANNELS).optional(),
  channelIndex: z.number().int(),
  channels: z.array(channelStateSchema),
  attemptsLeft: z.number().int(),
  checkUrl: z.string().optional(),
  expiresAt: z.string(),
  startedAt: z.string(),
  updatedAt: z.string(),
});
export type VerificationState = z.infer<typeof verificationStateSchema>;

/** Result of `phoneVerification`: the final state. */
export type PhoneVerificationResult = VerificationState;

export const checkCodeInputSchema = z.strictObject({
  code: z.string().regex(/^[A-Za-z0-9]{4,32}$/, 'must be 4-32 letters or digits'),
  /** Silent auth only: the request_id the check URL redirect chain ended with (compared against ours). */
  requestId: z.string().min(1).max(64).optional(),
});
export type CheckCodeInput = z.infer<typeof checkCodeInputSchema>;
export const checkCodeResultSchema = z.object({
  status: z.enum(['completed', 'invalid_code', 'failed', 'expired']),
  attemptsLeft: z.number().int(),
  reason: z.enum([...REASONS, 'request_id_mismatch']).optional(),
});
export type CheckCodeResult = z.infer<typeof checkCodeResultSchema>;

export const cancelInputSchema = z.strictObject({ reason: z.string().max(200).optional() });
export type CancelInput = z.infer<typeof cancelInputSchema>;

/** A provider callback, normalized by the webhook controller. `eventId` dedupes repeated deliveries. */
export const providerEventSchema = z.strictObject({
  eventId: z.string().min(1).max(200),
  provider: z.enum(PHONE_PROVIDERS),
  /** The provider's request/session id the event is about (Vonage request_id). */
  ref: z.string().min(1).max(100),
  channel: z.enum(CHANNELS).optional(),
  status: z.enum(['action_pending', 'failed', 'completed', 'user_rejected', 'expired']),
  checkUrl: z.string().url().optional(),
  occurredAt: z.string().optional(),
});
export type ProviderEvent = z.infer<typeof providerEventSchema>;

/** Submit a code (OTP or silent-auth code). Validated before it enters history. */
export const checkCode = defineUpdate<CheckCodeResult, [CheckCodeInput]>('checkCode');
/** Give up on the current channel and move to the next one. Returns the new state. */
export const nextChannel = defineUpdate<VerificationState, []>('nextChannel');
/** Cancel a live verification (the argument may be omitted by any client). Returns the final state. */
export const cancel = defineUpdate<VerificationState, [CancelInput]>('cancel');
/** A normalized provider callback (signed webhook → signal). */
export const providerEvent = defineSignal<[ProviderEvent]>('providerEvent');
/** The current state. */
export const getState = defineQuery<VerificationState>('getState');

/** Search attributes (register them on a cluster with `npm run temporal:register-search-attributes`). */
export const SA_KIND = defineSearchAttributeKey('VerificationKind', SearchAttributeType.KEYWORD);
export const SA_STATUS = defineSearchAttributeKey('VerificationStatus', SearchAttributeType.KEYWORD);
export const SA_CHANNEL = defineSearchAttributeKey('VerificationChannel', SearchAttributeType.KEYWORD);
export const SA_PROVIDER = defineSearchAttributeKey('VerificationProvider', SearchAttributeType.KEYWORD);
export const SA_PROVIDER_REF = defineSearchAttributeKey('VerificationProviderRef', SearchAttributeType.KEYWORD_LIST);
export const SEARCH_ATTRIBUTES = [SA_KIND, SA_STATUS, SA_CHANNEL, SA_PROVIDER, SA_PROVIDER_REF];

/** `provider:id`, the value kept in VerificationProviderRef. */
export const providerRef = (provider: Provider, id: string): string => `${provider}:${id}`;

/** Workflow ID of a phone verification: deterministic with a reference, else from a caller-made random id. */
export const phoneVerificationId = (referenceOrRandom: string): string => `phone-${referenceOrRandom}`;

/** Formats zod issues as `field: message; field: message`, naming each field. */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
}

// ── push ──

/** Push challenges expire after 5 minutes by default, 60 at most (Twilio Verify Push). */
export const DEFAULT_PUSH_EXPIRY_SECONDS = 300;
/** How often the workflow fetches the challenge when no webhook has answered (webhooks are optional at Twilio). */
export const DEFAULT_PUSH_POLL_INTERVAL_SECONDS = 15;
/** Notifications resent for one challenge at most (with the first push that makes Twilio's 5 sends). */
export const MAX_PUSH_RESENDS = 4;
/** How long an enrollment (access token brokered) waits for factor.created → factor.verified by default. */
export const DEFAULT_PUSH_ENROLLMENT_TIMEOUT_SECONDS = 600;

const PHONE_LIKE = /^\+?[\d\s().-]+$/;

/**
 * A Verify Push entity identity: immutable and not PII (a UUID, GUID or user SID), 8-64 dash-separated
 * alphanumerics as Twilio requires. Phone numbers and e-mail addresses are refused with a message saying why.
 */
export const pushIdentitySchema = z
  .string()
  .min(8, 'must be 8-64 characters')
  .max(64, 'must be 8-64 characters')
  .refine((v) => !v.includes('@'), 'must not be an e-mail address: use an immutable, non-PII id such as a UUID')
  .refine(
    (v) => !(PHONE_LIKE.test(v) && v.replace(/\D/g, '').length >= 7 && v.replace(/\D/g, '').length <= 15),
    'must not be a phone number: use an immutable, non-PII id such as a UUID',
  )
  .refine((v) => /^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/.test(v), 'must be dash-separated letters and digits');

/** A Twilio push Factor SID. */
export const factorSidSchema = z.string().regex(/^YF[0-9a-fA-F]{32}$/, 'must be a Factor SID (YF + 32 hex)');

export const pushDetailFieldSchema = z.strictObject({
  label: z.string().trim().min(1).max(36),
  value: z.string().min(1).max(128),
});

export const pushVerificationInputSchema = z.strictObject({
  identity: pushIdentitySchema,
  /** The factor to challenge; else the identity's newest verified push factor. */
  factorSid: factorSidSchema.optional(),
  /** Shown to the user with the push notification. */
  message: z.string().trim().min(1).max(256),
  fields: z.array(pushDetailFieldSchema).max(20).optional(),
  /** Context not shown to the user (string values only, at most 1024 characters as JSON). */
  hiddenDetails: z
    .record(z.string(), z.string())
    .refine((v) => JSON.stringify(v).length <= 1024, 'must be at most 1024 characters as JSON')
    .optional(),
  expirySeconds: z.number().int().min(3).max(3600).optional(),
  /** Resend the notification of the same challenge when unanswered this long (and again after as long). */
  resendAfterSeconds: z.number().int().min(1).max(3600).optional(),
  pollIntervalSeconds: z.number().int().min(1).max(600).optional(),
  /** Runs as a child `phoneVerification` when the challenge expires or the identity has no verified factor. */
  fallback: phoneVerificationInputSchema.optional(),
  /** Also fall back when the user denies the challenge (default false: a denial is final). */
  fallbackOnDeny: z.boolean().optional(),
  reference: referenceSchema
    .refine((v) => !v.startsWith('enrollment-'), 'must not start with enrollment- (reserved for enrollments)')
    .optional(),
});
/** Input of `pushVerification`. Only `identity` and `message` are required. */
export type PushVerificationInput = z.input<typeof pushVerificationInputSchema>;

/** What the push `getState` query returns: never the identity, the message or the phone number. ISO timestamps. */
export interface PushVerificationState {
  id: string;
  kind: 'push';
  status: VerificationStatus;
  reason?: Reason;
  challengeSid?: string;
  factorSid?: string;
  /** Notifications resent for the challenge (Notifications resource, never a second challenge). */
  resends: number;
  /** Why push itself did not complete (`expired`, `no_verified_factor`, `user_denied`) when a fallback ran. */
  pushReason?: Reason;
  /** Workflow ID of the fallback `phoneVerification` child, once started. */
  fallbackId?: string;
  expiresAt: string;
  startedAt: string;
  updatedAt: string;
}
/** Result of `pushVerification`: the final state (status and reason of the fallback when one ran). */
export type PushVerificationResult = PushVerificationState;

export const PUSH_EVENT_TYPES = [
  'factor.created',
  'factor.verified',
  'factor.deleted',
  'challenge.approved',
  'challenge.denied',
] as const;
export type PushEventType = (typeof PUSH_EVENT_TYPES)[number];

/** A Twilio Verify Push webhook, normalized by the webhook controller. `eventId` (the webhook uuid) dedupes. */
export const pushProviderEventSchema = z.strictObject({
  eventId: z.string().min(1).max(200),
  provider: z.literal('twilio'),
  type: z.enum(PUSH_EVENT_TYPES),
  identity: z.string().min(1).max(64),
  factorSid: z.string().min(1).max(64).optional(),
  challengeSid: z.string().min(1).max(64).optional(),
  occurredAt: z.string().optional(),
});
export type PushProviderEvent = z.infer<typeof pushProviderEventSchema>;

/** Twilio Verify Push webhooks for `pushVerification` (challenge.*) and `pushEnrollment` (factor.*). */
export const pushProviderEvent = defineSignal<[PushProviderEvent]>('providerEvent');
/** The state of a `pushVerification` (same query name as every verification). */
export const getPushState = defineQuery<PushVerificationState>('getState');
/** Cancel a live push verification (and its fallback). Returns the final state. */
export const cancelPush = defineUpdate<PushVerificationState, [CancelInput]>('cancel');

/** Workflow ID of a push verification: `push-<reference>` (idempotent start), else `push-<32 hex>`. Clients only. */
export const pushVerificationId = (reference?: string): string =>
  `push-${reference ?? globalThis.crypto.randomUUID().replace(/-/g, '')}`;
/** Workflow ID of the fallback `phoneVerification` child: `phone-<push id without push->` (≤ 40 chars). */
export const pushFallbackId = (pushId: string): string => `phone-${pushId.replace(/^push-/, '')}`;

export const pushEnrollmentInputSchema = z.strictObject({
  identity: pushIdentitySchema,
  /** Carried over by continue-as-new: the factors known so far. */
  factors: z
    .array(
      z.strictObject({
        sid: z.string().min(1).max(64),
        status: z.enum(['unverified', 'verified']),
        createdAt: z.string(),
        verifiedAt: z.string().optional(),
      }),
    )
    .max(20)
    .optional(),
  /** Carried over by continue-as-new: an open enrollment window (ISO). */
  deadline: z.string().optional(),
});
/** Input of `pushEnrollment`: the identity (the rest is continue-as-new state). */
export type PushEnrollmentInput = z.input<typeof pushEnrollmentInputSchema>;

export const enrollmentRequestSchema = z.strictObject({
  timeoutSeconds: z.number().int().min(1).max(86_400).optional(),
});
export type EnrollmentRequest = z.infer<typeof enrollmentRequestSchema>;

export interface PushEnrollmentFactor {
  sid: string;
  status: 'unverified' | 'verified';
  createdAt: string;
  verifiedAt?: string;
}

/**
 * State of the identity's `pushEnrollment`: `pending` (token brokered, no factor yet), `created` (factor created,
 * not verified), `verified` (a verified factor exists: `factorSid` is the newest), `expired` (the enrollment window
 * closed without a verified factor), `removed` (every factor was deleted).
 */
export interface PushEnrollmentState {
  id: string;
  kind: 'push_enrollment';
  identity: string;
  status: 'pending' | 'created' | 'verified' | 'expired' | 'removed';
  verified: boolean;
  factorSid?: string;
  factors: PushEnrollmentFactor[];
  /** End of the open enrollment window, if any. */
  deadline?: string;
  startedAt: string;
  updatedAt: string;
}

/** A device asked for an access token: open (or extend) the enrollment window. Used with signalWithStart. */
export const enrollmentRequested = defineSignal<[EnrollmentRequest]>('enrollmentRequested');
/** The identity's enrollment state. */
export const getEnrollmentState = defineQuery<PushEnrollmentState>('getState');

/** Workflow ID of the identity's enrollment: one per identity. */
export const pushEnrollmentId = (identity: string): string => `push-enrollment-${identity}`;
