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
  /** The abuse guard refused a send the run needed (sends per destination, prefix or client; failed checks). */
  'rate_limited',
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
  /** `resend` on a channel that has no code of ours to resend, or with no resends left. */
  ResendNotAvailable = 'ResendNotAvailable',
  /** The abuse guard refused a send or a check (details: `[{scope, retryAfterSeconds}]`): nothing was sent or checked. */
  RateLimited = 'RateLimited',
  /** The destination's country is not in the allowed countries: nothing was sent. */
  DestinationNotAllowed = 'DestinationNotAllowed',
  /** `approveFactor` refused: the factor does not wait for approval, or the approving verification does not qualify. */
  ApprovalRefused = 'ApprovalRefused',
}

export const CHANNELS = ['silent_auth', 'sms', 'voice', 'whatsapp', 'email'] as const;
export type Channel = (typeof CHANNELS)[number];
/** Every provider verifyflow talks to (the `provider` half of VerificationProviderRef). */
export const PROVIDERS = ['vonage', 'sms_gateway', 'stripe', 'twilio'] as const;
export type Provider = (typeof PROVIDERS)[number];
/** Providers that can serve a phone channel (`sms_gateway`: our own OTP sent through an HTTP SMS gateway). */
export const PHONE_PROVIDERS = ['vonage', 'sms_gateway'] as const;
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

/**
 * An API client's id: 1-32 letters and digits. The REST API fills it in from the caller's credential (callers cannot
 * set it); it prefixes the workflow IDs of the client's verifications, so two clients' references never collide, and
 * is kept in the `VerificationClient` search attribute. Temporal callers may set it; children inherit it.
 */
export const clientIdSchema = z.string().regex(/^[A-Za-z0-9]{1,32}$/, 'must be 1-32 letters or digits');

/**
 * A sender name / brand shown to the user (Vonage's sender-name rules): 1-16 printable characters, no control,
 * bidirectional-override, zero-width or line-separator characters (they disguise who is writing), no edge spaces.
 */
export const brandSchema = z
  .string()
  .min(1, 'must be 1-16 characters')
  .max(16, 'must be 1-16 characters')
  .refine((v) => v === v.trim(), 'must not start or end with spaces')
  .refine(
    (v) => !/[\p{C}\p{Zl}\p{Zp}]/u.test(v),
    'must be printable: no control, bidi, zero-width or line-separator characters',
  );

/** The name of a message template configured for the API client or the SMS gateway (never free text). */
export const templateNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'must be the name of a configured template (1-32 of a-z 0-9 _ -)');
/** The template every sms_gateway channel has: `Your @@brand@@ code is @@password@@`. */
export const DEFAULT_TEMPLATE_NAME = 'default';

/**
 * The workflow ID of a verification of `kind`: `<kind>-<client>-<reference or random>` when started for an API client,
 * `<kind>-<reference or random>` when started by a Temporal caller without one.
 */
export const verificationIdFor = (kind: string, key: string, client?: string): string =>
  client ? `${kind}-${client}-${key}` : `${kind}-${key}`;

/** A configured SMS gateway's name (SMS_GATEWAYS; `sandbox`, `sandbox-500`, `sandbox-hang` in sandbox mode). */
export const gatewayNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/, 'must be a gateway name: 1-32 characters of A-Z a-z 0-9 _ . -');

/** A message template with Auth0's macros: `@@password@@` (the code, required) and `@@brand@@`. */
export const otpTemplateSchema = z
  .string()
  .min(1)
  .max(320)
  .refine((t) => t.includes('@@password@@'), 'must contain @@password@@');

export const channelSpecSchema = z
  .strictObject({
    channel: z.enum(CHANNELS),
    provider: z.enum(PHONE_PROVIDERS).default('vonage'),
    /** `sms_gateway` only: which configured gateway sends the code (default: the first configured one). */
    gateway: gatewayNameSchema.optional(),
    timeoutSeconds: z.number().int().min(1).max(900).optional(),
    /** `email` channels only (and required there): the address the code goes to. Phone channels use the top-level `to`. */
    to: z.email({ error: 'must be an e-mail address' }).max(254).optional(),
  })
  .refine((c) => c.to === undefined || c.channel === 'email', {
    path: ['to'],
    message: "only an email channel takes an address of its own; phone channels use the verification's `to`",
  })
  .refine((c) => c.to !== undefined || c.channel !== 'email', {
    path: ['to'],
    message: 'an email channel needs the e-mail address to send the code to',
  })
  .refine((c) => c.provider !== 'sms_gateway' || c.channel === 'sms', {
    path: ['channel'],
    message: 'an sms_gateway channel must be sms',
  })
  .refine((c) => c.gateway === undefined || c.provider === 'sms_gateway', {
    path: ['gateway'],
    message: 'applies only to provider sms_gateway',
  });
export type ChannelSpec = z.input<typeof channelSpecSchema>;

export const phoneVerificationInputSchema = z.strictObject({
  to: e164,
  brand: brandSchema,
  channels: z.array(channelSpecSchema).min(1).max(6).optional(),
  codeLength: z.number().int().min(4).max(10).optional(),
  locale: z
    .string()
    .regex(/^[a-z]{2}-[a-z]{2}$/i, 'must look like en-us')
    .optional(),
  expirySeconds: z.number().int().min(5).max(3600).optional(),
  maxCodeAttempts: z.number().int().min(1).max(10).optional(),
  reference: referenceSchema.optional(),
  /**
   * sms_gateway channels: the name of the SMS text to send, a template configured for the API client or the gateway
   * (default `default`: `Your @@brand@@ code is @@password@@`). Never free text.
   */
  messageTemplate: templateNameSchema.optional(),
  /** sms_gateway channels: how long one of our codes is valid (default 300 s, like Auth0's `totp.time_step`). */
  codeValiditySeconds: z.number().int().min(5).max(3600).optional(),
  /** sms_gateway channels: `resend` updates allowed per verification (default 3). */
  maxResends: z.number().int().min(0).max(5).optional(),
  /**
   * How long creating a provider request is retried while the provider is down (5xx, 429, unreachable) before those
   * channels fall back to the next provider (default 120 s, never past the verification's expiry).
   */
  providerRetrySeconds: z.number().int().min(5).max(900).optional(),
  /** The API client that started it (set by the REST API, never by its callers). */
  client: clientIdSchema.optional(),
  /**
   * Set by the REST API, which counted the first send against the abuse guard before starting the run: the first
   * provider request is then not counted again. Temporal callers leave it unset (the worker counts every send).
   */
  firstSendCounted: z.boolean().optional(),
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
export const DEFAULT_PROVIDER_RETRY_SECONDS = 120;

/** A channel as the state shows it: never the destination number. */
export const channelStateSchema = z.object({
  channel: z.enum(CHANNELS),
  provider: z.enum(PHONE_PROVIDERS),
  gateway: z.string().optional(),
  timeoutSeconds: z.number().int(),
  status: z.enum(['waiting', 'active', 'failed', 'skipped', 'completed']),
});
export type ChannelState = z.infer<typeof channelStateSchema>;

/** What `getState` returns for a phone verification, and what the REST API shows. ISO timestamps. */
export const verificationStateSchema = z.object({
  id: z.string(),
  kind: z.enum(VERIFICATION_KINDS),
  /** The API client that owns it (absent for runs started by Temporal callers without one). */
  client: z.string().optional(),
  status: z.enum([...LIVE_STATUSES, ...TERMINAL_STATUSES]),
  reason: z.enum(REASONS).optional(),
  channel: z.enum(CHANNELS).optional(),
  channelIndex: z.number().int(),
  channels: z.array(channelStateSchema),
  attemptsLeft: z.number().int(),
  checkUrl: z.string().optional(),
  /** sms_gateway channels: when the current code of ours stops working. */
  codeExpiresAt: z.string().optional(),
  /** sms_gateway channels: `resend` updates left. */
  resendsLeft: z.number().int().optional(),
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
  checkUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
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
/** The API client that owns the run (its children inherit it): the REST API lets a client see only its own. */
export const SA_CLIENT = defineSearchAttributeKey('VerificationClient', SearchAttributeType.KEYWORD);
export const SEARCH_ATTRIBUTES = [SA_KIND, SA_STATUS, SA_CHANNEL, SA_PROVIDER, SA_PROVIDER_REF, SA_CLIENT];

/** `provider:id`, the value kept in VerificationProviderRef. */
export const providerRef = (provider: Provider, id: string): string => `${provider}:${id}`;

/**
 * Workflow ID of a phone verification: `phone-<client>-<reference>` (deterministic with a reference, else from a
 * caller-made random id); `phone-<reference>` for Temporal callers without a client.
 */
export const phoneVerificationId = (referenceOrRandom: string, client?: string): string =>
  verificationIdFor('phone', referenceOrRandom, client);

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
export const pushIdentitySchema = z.string().superRefine((v, ctx) => {
  const digits = v.replace(/\D/g, '').length;
  const problem = v.includes('@')
    ? 'must not be an e-mail address: use an immutable, non-PII id such as a UUID'
    : PHONE_LIKE.test(v) && digits >= 7 && digits <= 15
      ? 'must not be a phone number: use an immutable, non-PII id such as a UUID'
      : v.length < 8 || v.length > 64
        ? 'must be 8-64 characters'
        : !/^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/.test(v)
          ? 'must be dash-separated letters and digits'
          : undefined;
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

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
  /** The API client that started it (set by the REST API, never by its callers); the fallback inherits it. */
  client: clientIdSchema.optional(),
});
/** Input of `pushVerification`. Only `identity` and `message` are required. */
export type PushVerificationInput = z.input<typeof pushVerificationInputSchema>;

/** What the push `getState` query returns: never the identity, the message or the phone number. ISO timestamps. */
export const pushVerificationStateSchema = z.object({
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
export type PushVerificationState = z.infer<typeof pushVerificationStateSchema>;
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

/** Workflow ID of a push verification: `push-<client>-<reference>` (idempotent start), else a random one. Clients only. */
export const pushVerificationId = (reference?: string, client?: string): string =>
  verificationIdFor('push', reference ?? globalThis.crypto.randomUUID().replace(/-/g, '').slice(0, 20), client);
/** Workflow ID of the fallback `phoneVerification` child: `phone-<push id without push->` (≤ 40 chars). */
export const pushFallbackId = (pushId: string): string => `phone-${pushId.replace(/^push-/, '')}`;

/**
 * A push factor of the identity: `unverified` (created, not verified at Twilio), `pending_approval` (verified at
 * Twilio while the identity already had a verified factor: it receives no challenge until approved — by a push
 * challenge approved on an existing verified factor, or by a completed phone verification of the client), `verified`
 * (challenges go to the newest one). The first factor of an identity is approved when Twilio verifies it.
 */
export const PUSH_FACTOR_STATUSES = ['unverified', 'pending_approval', 'verified'] as const;
export const pushEnrollmentFactorSchema = z.object({
  sid: z.string(),
  status: z.enum(PUSH_FACTOR_STATUSES),
  createdAt: z.string(),
  verifiedAt: z.string().optional(),
  /** When and by which completed verification a `pending_approval` factor was approved. */
  approvedAt: z.string().optional(),
  approvedBy: z.string().optional(),
});
export type PushEnrollmentFactor = z.infer<typeof pushEnrollmentFactorSchema>;

export const pushEnrollmentInputSchema = z.strictObject({
  identity: pushIdentitySchema,
  /** The API client whose identity this is (its Twilio entity is `<client>-<identity>`); absent for Temporal callers. */
  client: clientIdSchema.optional(),
  /** Carried over by continue-as-new: the factors known so far. */
  factors: z.array(pushEnrollmentFactorSchema).max(20).optional(),
  /** Carried over by continue-as-new: an open enrollment window (ISO). */
  deadline: z.string().optional(),
  /** Carried over by continue-as-new: the verifications that approved a factor (each approves one factor, once). */
  approvals: z.array(z.string()).max(100).optional(),
  /** Carried over by continue-as-new: the newest provider event ids seen, so a redelivered webhook stays a duplicate. */
  seenEventIds: z.array(z.string().min(1).max(200)).max(200).optional(),
});
/** Input of `pushEnrollment`: the identity (the rest is continue-as-new state). */
export type PushEnrollmentInput = z.input<typeof pushEnrollmentInputSchema>;

export const enrollmentRequestSchema = z.strictObject({
  timeoutSeconds: z.number().int().min(1).max(86_400).optional(),
});
export type EnrollmentRequest = z.infer<typeof enrollmentRequestSchema>;

/**
 * State of the identity's `pushEnrollment`: `pending` (token brokered, no factor yet), `created` (factor created,
 * not verified), `verified` (a verified factor exists: `factorSid` is the newest), `expired` (the enrollment window
 * closed without a verified factor), `removed` (every factor was deleted).
 */
export const pushEnrollmentStateSchema = z.object({
  id: z.string(),
  kind: z.literal('push_enrollment'),
  /** The Twilio entity identity (`<client>-<identity>` for an API client's users). */
  identity: z.string(),
  client: z.string().optional(),
  status: z.enum(['pending', 'created', 'verified', 'expired', 'removed']),
  verified: z.boolean(),
  factorSid: z.string().optional(),
  factors: z.array(pushEnrollmentFactorSchema),
  /** End of the open enrollment window, if any. */
  deadline: z.string().optional(),
  startedAt: z.string(),
  updatedAt: z.string(),
});
export type PushEnrollmentState = z.infer<typeof pushEnrollmentStateSchema>;

/** A device asked for an access token: open (or extend) the enrollment window. Used with signalWithStart. */
export const enrollmentRequested = defineSignal<[EnrollmentRequest]>('enrollmentRequested');
/** The identity's enrollment state. */
export const getEnrollmentState = defineQuery<PushEnrollmentState>('getState');

export const approveFactorInputSchema = z.strictObject({
  factorSid: factorSidSchema,
  /** The completed verification that approves it: a push verification or a phone verification of the same client. */
  verificationId: z.string().min(1).max(200),
  kind: z.enum(['push', 'phone']),
  /** kind `push`: the factor its challenge was approved on (must be a verified factor of this identity). */
  approvedOnFactorSid: factorSidSchema.optional(),
  /** When that verification completed (ISO): it must be after the factor was created. */
  completedAt: z.string(),
});
export type ApproveFactorInput = z.infer<typeof approveFactorInputSchema>;
/**
 * Approves a `pending_approval` factor (validated: the factor waits for approval; a push approval was given on a
 * verified factor of this identity; the verification completed after the factor was created and approved nothing
 * before). Returns the enrollment state.
 */
export const approveFactor = defineUpdate<PushEnrollmentState, [ApproveFactorInput]>('approveFactor');

/** The Twilio entity identity of an API client's user: `<client>-<identity>` (Twilio's 8-64 dash-separated rule). */
export const pushEntityIdentity = (identity: string, client?: string): string =>
  client ? `${client}-${identity}` : identity;
/** Workflow ID of the identity's enrollment: one per Twilio entity identity. */
export const pushEnrollmentId = (entityIdentity: string): string => `push-enrollment-${entityIdentity}`;

// ── identity ──

/** The identity document types Stripe Identity accepts in `options.document.allowed_types`. */
export const IDENTITY_DOCUMENT_TYPES = ['driving_license', 'id_card', 'passport'] as const;
/** Stripe VerificationSession `type`s we start. */
export const IDENTITY_CHECK_TYPES = ['document', 'id_number'] as const;
export const DEFAULT_IDENTITY_MAX_ATTEMPTS = 3;
/** 7 days: how long the user has to complete the verification (the session deadline). */
export const DEFAULT_IDENTITY_DEADLINE_SECONDS = 7 * 24 * 3600;

/**
 * `last_error.code` values that end an identity verification at once: the user cannot fix them by trying again
 * (seed 003's "session" table, and the e-mail/phone declines that are consent declines of their own).
 */
export const STRIPE_IDENTITY_TERMINAL_CODES = [
  'consent_declined',
  'under_supported_age',
  'country_not_supported',
  'email_verification_declined',
  'phone_verification_declined',
] as const;
/**
 * `last_error.code` values the user can correct (seed 003's document, selfie, ID number and address tables): each
 * counts as one attempt on the same session; when `maxAttempts` are used up the verification fails with the code.
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

/** A platform user id (not PII: no names, e-mail addresses or phone numbers): the workflow ID derives from it. */
export const identityReferenceSchema = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 . _ : - (a platform user id, not PII)');

export const identityDocumentOptionsSchema = z.strictObject({
  /** Stripe `options.document.allowed_types`. */
  allowedTypes: z.array(z.enum(IDENTITY_DOCUMENT_TYPES)).min(1).max(3).optional(),
  requireLiveCapture: z.boolean().optional(),
  requireMatchingSelfie: z.boolean().optional(),
  requireIdNumber: z.boolean().optional(),
});
export type IdentityDocumentOptions = z.infer<typeof identityDocumentOptionsSchema>;

const dobSchema = z.strictObject({
  year: z.number().int().min(1900).max(2100),
  month: z.number().int().min(1).max(12),
  day: z.number().int().min(1).max(31),
});

/** Values to compare with Stripe's verified outputs (PII: they travel only inside the input payload). */
export const identityExpectedSchema = z
  .strictObject({
    firstName: z.string().trim().min(1).max(100).optional(),
    lastName: z.string().trim().min(1).max(100).optional(),
    dob: dobSchema.optional(),
  })
  .refine((e) => e.firstName !== undefined || e.lastName !== undefined || e.dob !== undefined, {
    message: 'must name at least one of firstName, lastName, dob',
  });

/** The fields of `identityVerification`'s input (its rules are added by `identityRules`). */
export const identityVerificationFieldsSchema = z.strictObject({
  reference: identityReferenceSchema,
  type: z.enum(IDENTITY_CHECK_TYPES),
  options: identityDocumentOptionsSchema.optional(),
  expected: identityExpectedSchema.optional(),
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
  client: clientIdSchema.optional(),
});
/** The rules across fields of an identity input: `options` only with type `document`. */
export const identityRules = <S extends z.ZodType<{ options?: unknown; type: string }>>(schema: S) =>
  schema.refine((i) => i.options === undefined || i.type === 'document', {
    path: ['options'],
    message: 'applies only to type document',
  });
export const identityVerificationInputSchema = identityRules(identityVerificationFieldsSchema);
/** Input of `identityVerification`. Only `reference` and `type` are required. */
export type IdentityVerificationInput = z.input<typeof identityVerificationInputSchema>;

export const REDACTION_STATUSES = [
  'none',
  'scheduled',
  'requested',
  'waiting',
  'processing',
  'redacted',
  'failed',
] as const;
export type RedactionStatus = (typeof REDACTION_STATUSES)[number];

/**
 * Where the redaction of a verification's Stripe session stands. On the verification: `none`, `scheduled` (the
 * redaction workflow waits for `redactAfterSeconds`) or `requested` (redact now). On the redaction workflow also
 * `waiting` (the session is still processing), `processing` (Stripe is redacting), `redacted`, `failed`.
 */
export const identityRedactionInfoSchema = z.object({
  status: z.enum(REDACTION_STATUSES),
  /** Workflow ID of the `identityRedaction` workflow, once started. */
  workflowId: z.string().optional(),
  /** When the redaction is (or was) due. ISO. */
  redactAt: z.string().optional(),
  error: z.string().optional(),
});
export type IdentityRedactionInfo = z.infer<typeof identityRedactionInfoSchema>;

/** What `getState` returns for an identity verification: never verified outputs, names or client secrets. */
export const identityVerificationStateSchema = z.object({
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
  /** The session's last_error: a code of seed 003 and Stripe's user-presentable message. */
  lastError: z.object({ code: z.string(), message: z.string().optional() }).optional(),
  /** The deadline. */
  expiresAt: z.string(),
  startedAt: z.string(),
  updatedAt: z.string(),
  redaction: identityRedactionInfoSchema,
});
export type IdentityVerificationState = z.infer<typeof identityVerificationStateSchema>;

/** Stripe's verified outputs (PII), in the workflow result only. */
export const identityVerifiedOutputsSchema = z.object({
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
export type IdentityVerifiedOutputs = z.infer<typeof identityVerifiedOutputsSchema>;

/** Result of `identityVerification`: the final state, plus the verified outputs when completed. */
export const identityVerificationResultSchema = identityVerificationStateSchema.extend({
  verifiedOutputs: identityVerifiedOutputsSchema.optional(),
  /** With `expected_mismatch`: which expected fields differed (never their values). */
  mismatches: z.array(z.enum(['firstName', 'lastName', 'dob'])).optional(),
});
export type IdentityVerificationResult = z.infer<typeof identityVerificationResultSchema>;

export const IDENTITY_EVENT_TYPES = [
  'created',
  'processing',
  'verified',
  'requires_input',
  'canceled',
  'redacted',
] as const;
export type IdentityEventType = (typeof IDENTITY_EVENT_TYPES)[number];

/**
 * A Stripe `identity.verification_session.*` event, normalized by the webhook controller: the session as the event
 * saw it, without PII (events carry no verified outputs) and without the client secret. `eventId` dedupes.
 */
export const identityProviderEventSchema = z.strictObject({
  eventId: z.string().min(1).max(255),
  provider: z.literal('stripe'),
  type: z.enum(IDENTITY_EVENT_TYPES),
  sessionId: z.string().min(1).max(255),
  /** The event's `created`, epoch seconds: orders events (coarsely; Stripe delivers them unordered). */
  created: z.number().int().min(0),
  sessionStatus: z.string().min(1).max(40),
  lastErrorCode: z.string().max(100).nullable().optional(),
  lastErrorMessage: z.string().max(500).nullable().optional(),
  /** `last_verification_report`: one per submission, so a failed attempt is counted once whatever the event. */
  reportId: z.string().max(255).nullable().optional(),
  redactionStatus: z.string().max(40).nullable().optional(),
});
export type IdentityProviderEvent = z.infer<typeof identityProviderEventSchema>;

export const redactInputSchema = z.strictObject({});
export type RedactInput = z.infer<typeof redactInputSchema>;

/** Input of `identityRedaction` (started by `identityVerification`, or by the REST API for a finished one). */
export const identityRedactionInputSchema = z.strictObject({
  verificationId: z.string().min(1).max(200),
  sessionId: z.string().min(1).max(255),
  delaySeconds: z
    .number()
    .int()
    .min(0)
    .max(10 * 365 * 24 * 3600),
  /** While the session is still processing (Stripe refuses to redact it), try again this often. Default 600. */
  pollSeconds: z.number().int().min(1).max(86_400).optional(),
});
export type IdentityRedactionInput = z.infer<typeof identityRedactionInputSchema>;

/** State (and result) of `identityRedaction`. */
export const identityRedactionStateSchema = identityRedactionInfoSchema.extend({
  verificationId: z.string(),
  sessionId: z.string(),
  redactedAt: z.string().optional(),
  updatedAt: z.string(),
});
export type IdentityRedactionState = z.infer<typeof identityRedactionStateSchema>;

/** Stripe identity events (signed webhook → signal), to `identityVerification` and (`redacted`) `identityRedaction`. */
export const identityProviderEvent = defineSignal<[IdentityProviderEvent]>('providerEvent');
/** The state of an `identityVerification` (same query name as every verification). */
export const getIdentityState = defineQuery<IdentityVerificationState>('getState');
/** The state of an `identityRedaction`. */
export const getRedactionState = defineQuery<IdentityRedactionState>('getState');
/** Cancel a live identity verification (and its Stripe session). Returns the final state. */
export const cancelIdentity = defineUpdate<IdentityVerificationState, [CancelInput]>('cancel');
/**
 * Redact the Stripe session now. On a live `identityVerification` it ends the verification (`cancelled`,
 * `redacted`) and starts the redaction workflow; on an `identityRedaction` it skips the remaining wait.
 */
export const redact = defineUpdate<IdentityRedactionInfo, [RedactInput]>('redact');

/** Workflow ID of an identity verification: `identity-<client>-<reference>` (`identity-<reference>` without a client). */
export const identityVerificationId = (reference: string, client?: string): string =>
  verificationIdFor('identity', reference, client);
/**
 * Workflow ID of the redaction of a Stripe session: `redaction-stripe-<session id>` (`redaction-` is no verification
 * kind, so no clash). Derived from the session, so the `redacted` webhook finds it without a lookup, and a new
 * verification of the same user never collides with the pending redaction of the previous one.
 */
export const identityRedactionId = (sessionId: string): string => `redaction-stripe-${sessionId}`;

// ── sms gateway ──

/** Our own OTP (sms_gateway channels): default text, length and validity (Auth0's `totp` defaults). */
export const DEFAULT_OTP_TEMPLATE = 'Your @@brand@@ code is @@password@@';
export const DEFAULT_OTP_LENGTH = 6;
export const DEFAULT_OTP_VALIDITY_SECONDS = 300;
export const DEFAULT_MAX_RESENDS = 3;

/**
 * Issue a new code on the current channel (sms_gateway channels): the previous code stops working at once.
 * Returns the state once the new code was sent (or the run moved on). Rejected with `ResendNotAvailable` on a
 * channel that is not ours or with no resends left, with `NotLive` when the verification is over.
 */
export const resend = defineUpdate<VerificationState, []>('resend');

/** What can carry an SMS for `smsDelivery`: the Vonage SMS API, or one of our configured HTTP SMS gateways. */
export const SMS_ROUTE_PROVIDERS = ['vonage', 'sms_gateway'] as const;
export const smsRouteSchema = z
  .strictObject({
    provider: z.enum(SMS_ROUTE_PROVIDERS),
    /** `sms_gateway` only: the configured gateway's name. */
    gateway: gatewayNameSchema.optional(),
  })
  .refine((r) => r.gateway === undefined || r.provider === 'sms_gateway', {
    path: ['gateway'],
    message: 'applies only to provider sms_gateway',
  });
export type SmsRoute = z.infer<typeof smsRouteSchema>;

/** A phone number in E.164 form (shape only: an SMS gateway forwards what its caller gives it). */
export const e164ShapeSchema = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 phone number like +14155550100');

/** `req` of seed 001 (`forward_req_info`): the end user's IP and user agent. PII: payloads only, never logged. */
export const smsRequestInfoSchema = z.object({
  ip: z.string().min(1).max(100).optional(),
  'user-agent': z.string().max(1024).optional(),
});
export type SmsRequestInfo = z.infer<typeof smsRequestInfoSchema>;

export const smsDeliveryInputSchema = z.strictObject({
  recipient: e164ShapeSchema,
  body: z.string().min(1).max(1600),
  sender: z.string().trim().min(1).max(32),
  req: smsRequestInfoSchema.optional(),
  /** Tried in order: the next one when a send fails (retries exhausted, rejected) or a delivery receipt fails. */
  routes: z.array(smsRouteSchema).min(1).max(5),
  /** Activity attempts per route before falling back (default 2). */
  attemptsPerRoute: z.number().int().min(1).max(10).optional(),
  /** How long to wait for a delivery receipt (routes that send them) before taking "accepted" as final (600 s). */
  receiptTimeoutSeconds: z.number().int().min(1).max(86_400).optional(),
  /** The run stays open this long after its start, so a repeat of the same request joins it (default 600 s). */
  dedupeWindowSeconds: z.number().int().min(0).max(86_400).optional(),
});
/** Input of `smsDelivery`. */
export type SmsDeliveryInput = z.input<typeof smsDeliveryInputSchema>;

export const SMS_DELIVERY_STATUSES = ['sending', 'accepted', 'delivered', 'failed'] as const;
export type SmsDeliveryStatus = (typeof SMS_DELIVERY_STATUSES)[number];

/** One route as the state shows it: never the recipient, the body or the request info. */
export const smsRouteStateSchema = z.object({
  provider: z.enum(SMS_ROUTE_PROVIDERS),
  gateway: z.string().optional(),
  status: z.enum(['waiting', 'sending', 'accepted', 'delivered', 'failed', 'skipped']),
  /** Why it failed: a FailureType, `ProviderUnavailable`, or the receipt's status (`failed`, `expired`). */
  failure: z.string().optional(),
});
export type SmsRouteState = z.infer<typeof smsRouteStateSchema>;

/**
 * State (and result) of `smsDelivery`: `sending` until a provider accepted the message, then `accepted`,
 * `delivered` (a receipt said so) or `failed` (every route failed).
 */
export const smsDeliveryStateSchema = z.object({
  id: z.string(),
  kind: z.literal('sms'),
  status: z.enum(SMS_DELIVERY_STATUSES),
  reason: z.enum(REASONS).optional(),
  routeIndex: z.number().int(),
  routes: z.array(smsRouteStateSchema),
  /** `provider` or `sms_gateway:<name>` of the route that accepted it last. */
  acceptedBy: z.string().optional(),
  acceptedAt: z.string().optional(),
  startedAt: z.string(),
  updatedAt: z.string(),
});
export type SmsDeliveryState = z.infer<typeof smsDeliveryStateSchema>;
export type SmsDeliveryResult = SmsDeliveryState;

export const awaitAcceptanceInputSchema = z.strictObject({
  /** Answer after this long even when no provider accepted yet (status `sending`). Default 25 s. */
  waitSeconds: z.number().min(0).max(300).optional(),
});
export type AwaitAcceptanceInput = z.infer<typeof awaitAcceptanceInputSchema>;

/**
 * Waits until a provider accepted the message (or every route failed, or `waitSeconds` passed) and returns the
 * state. The inbound gateway sends it with update-with-start; a repeated request sends it to the running one.
 */
export const awaitAcceptance = defineUpdate<SmsDeliveryState, [AwaitAcceptanceInput]>('awaitAcceptance');
/** The state of an `smsDelivery` (same query name as every workflow). */
export const getSmsDeliveryState = defineQuery<SmsDeliveryState>('getState');

/** Workflow ID of an SMS delivery: `sms-<keyed hash of recipient, body and time bucket>` (no PII in it). */
export const smsDeliveryId = (hash: string): string => `sms-${hash}`;

export const acquireInputSchema = z.strictObject({
  limit: z.number().int().min(1).max(100_000),
  windowSeconds: z
    .number()
    .int()
    .min(1)
    .max(7 * 86_400),
});
export type AcquireInput = z.infer<typeof acquireInputSchema>;
export const acquireResultSchema = z.object({
  allowed: z.boolean(),
  /** Hits left in the window after this one. */
  remaining: z.number().int(),
  /** When refused: seconds until the oldest hit leaves the window. */
  retryAfterSeconds: z.number().int().optional(),
});
export type AcquireResult = z.infer<typeof acquireResultSchema>;
export const rateLimitInputSchema = z.strictObject({
  /** Carried over by continue-as-new: hit times (epoch ms) still inside the window. */
  hits: z.array(z.number()).max(100_000).optional(),
  windowSeconds: z.number().int().min(1).optional(),
});
export type RateLimitInput = z.infer<typeof rateLimitInputSchema>;

/** Counts one hit against a sliding window; refused (not counted) when `limit` hits are already in it. */
export const acquire = defineUpdate<AcquireResult, [AcquireInput]>('acquire');
/** Workflow ID of a rate limiter: `ratelimit-<scope>-<keyed hash of the key>` (no PII in it). */
export const rateLimitId = (scope: string, hash: string): string => `ratelimit-${scope}-${hash}`;

// ── onboarding ──

export const ONBOARDING_STEPS = ['phone', 'identity', 'push'] as const;
export type OnboardingStepName = (typeof ONBOARDING_STEPS)[number];

export const onboardingInputSchema = z.strictObject({
  /** The platform's user id (not PII): every step's workflow ID derives from it. */
  reference: referenceSchema,
  /** phoneVerification input, without `reference` (and what only the API sets). */
  phone: phoneVerificationInputSchema.omit({ reference: true, client: true, firstSendCounted: true }),
  /** identityVerification input, without `reference` (and `client`). */
  identity: identityVerificationFieldsSchema.omit({ reference: true, client: true }),
  /** When given, onboarding also waits for this push identity to have a verified Twilio factor. */
  push: z
    .strictObject({
      identity: pushIdentitySchema,
      timeoutSeconds: z
        .number()
        .int()
        .min(5)
        .max(7 * 24 * 3600)
        .optional(),
      pollIntervalSeconds: z.number().int().min(1).max(3600).optional(),
    })
    .optional(),
  /** The API client that started it (set by the REST API, never by its callers); every step inherits it. */
  client: clientIdSchema.optional(),
});
/** Input of `onboarding`: phone, then identity (then push enrollment), each a child workflow. */
export type OnboardingInput = z.input<typeof onboardingInputSchema>;

export const onboardingStepSchema = z.object({
  name: z.enum(ONBOARDING_STEPS),
  workflowId: z.string(),
  status: z.enum(['waiting', 'running', 'completed', 'failed', 'expired', 'cancelled', 'skipped']),
  reason: z.string().optional(),
});
export type OnboardingStep = z.infer<typeof onboardingStepSchema>;

export const onboardingStateSchema = z.object({
  id: z.string(),
  kind: z.literal('onboarding'),
  client: z.string().optional(),
  status: z.enum([...LIVE_STATUSES, ...TERMINAL_STATUSES]),
  /** `<step>:<reason of that step>` when a step ended the onboarding. */
  reason: z.string().optional(),
  step: z.enum(ONBOARDING_STEPS).optional(),
  steps: z.array(onboardingStepSchema),
  startedAt: z.string(),
  updatedAt: z.string(),
});
export type OnboardingState = z.infer<typeof onboardingStateSchema>;

/** Result of `onboarding`: the final state and each step's own result (identity outputs only here, encrypted). */
export const onboardingResultSchema = onboardingStateSchema.extend({
  results: z.object({
    phone: verificationStateSchema.optional(),
    identity: identityVerificationResultSchema.optional(),
    push: z.object({ factorSid: z.string().optional(), verified: z.boolean() }).optional(),
  }),
});
export type OnboardingResult = z.infer<typeof onboardingResultSchema>;

export const getOnboardingState = defineQuery<OnboardingState>('getState');
export const cancelOnboarding = defineUpdate<OnboardingState, [CancelInput]>('cancel');
export const onboardingId = (reference: string, client?: string): string =>
  verificationIdFor('onboarding', reference, client);
