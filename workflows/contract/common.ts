/**
 * What every workflow kind of the contract shares: statuses, reasons, failure types, channels and providers, search
 * attribute keys, the workflow-ID scheme, and the schemas more than one kind is built from (how a kind is described
 * is in ./descriptor.ts). Controllers, tests and other teams' code (in any language, see README "Contract")
 * depend on these names; change them only additively.
 *
 * Imported by workflow code, so it stays deterministic and Node-free. No zod schema is built when this module loads:
 * the shared schemas below are built on first use (`lazy`), so a workflow builds only what it validates with.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { isValidPhoneNumber } from 'libphonenumber-js/max';
import { z } from 'zod';
import { lazy } from './descriptor';

/** Default task queue; configurable with TEMPORAL_TASK_QUEUE. */
export const DEFAULT_TASK_QUEUE = 'verification';

/** The kinds the REST API serves under `/v1/verifications/:id`, and the `kind` of their states. */
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
  /** The provider's anti-fraud network block refused the destination, and no channel was left to fall back to. */
  'blocked',
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
  /**
   * The provider refuses to deliver to this destination on this channel (Twilio 60410 Fraud Guard, 60605 geo
   * permissions): the channel will not deliver, so the run moves on at once with reason `blocked`.
   */
  ChannelBlocked = 'ChannelBlocked',
  /** `resend` on a channel that has no code of ours to resend, or with no resends left. */
  ResendNotAvailable = 'ResendNotAvailable',
  /**
   * A start under a reference whose verification is running with another request (another body, or another client's):
   * refused, nothing started or sent (REST answers 409 `reference_conflict`).
   */
  ReferenceConflict = 'ReferenceConflict',
  /** The abuse guard refused a send or a check (details: `[{scope, retryAfterSeconds}]`): nothing was sent or checked. */
  RateLimited = 'RateLimited',
  /** The destination's country is not in the allowed countries: nothing was sent. */
  DestinationNotAllowed = 'DestinationNotAllowed',
  /** `approveFactor` refused: the factor does not wait for approval, or the approving verification does not qualify. */
  ApprovalRefused = 'ApprovalRefused',
  /** The events endpoint answered 410 Gone: no more events are sent to it until a redelivery is asked for. */
  EndpointGone = 'EndpointGone',
  /** The events endpoint refused an event with a 4xx (other than 408, 410, 429) on every try: it is parked. */
  EventRejected = 'EventRejected',
  /** The worker has no events endpoint for the event's API client. */
  EventsNotConfigured = 'EventsNotConfigured',
  /** `redeliver` of an event the delivery workflow does not have. */
  EventNotFound = 'EventNotFound',
}

export const CHANNELS = ['silent_auth', 'sms', 'voice', 'whatsapp', 'email'] as const;
export type Channel = (typeof CHANNELS)[number];
/** Every provider verifyflow talks to (the `provider` half of VerificationProviderRef). */
export const PROVIDERS = ['vonage', 'sms_gateway', 'stripe', 'twilio'] as const;
export type Provider = (typeof PROVIDERS)[number];
/**
 * Providers that can serve a phone channel (`sms_gateway`: our own OTP sent through an HTTP SMS gateway; `twilio`:
 * Twilio Verify, one verification per channel).
 */
export const PHONE_PROVIDERS = ['vonage', 'sms_gateway', 'twilio'] as const;
export type PhoneProvider = (typeof PHONE_PROVIDERS)[number];

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
 * The workflow ID of a verification of `kind`: `<kind>-<client>-<reference or random>` when started for an API client,
 * `<kind>-<reference or random>` when started by a Temporal caller without one.
 */
export const verificationIdFor = (kind: string, key: string, client?: string): string =>
  client ? `${kind}-${client}-${key}` : `${kind}-${key}`;

/** An API client's id as it appears in workflow IDs (clientIdSchema's rule). */
const CLIENT_ID = '[A-Za-z0-9]{1,32}';

/**
 * The shape of every workflow ID `verificationIdFor(prefix, key, client?)` makes: `<prefix>-<client>-<key>` or
 * `<prefix>-<key>`, the key being `maxKey` reference characters (A-Z a-z 0-9 . _ : -; a random key is 20 hex).
 */
export const verificationIdPattern = (prefix: string, maxKey: number, exclude?: string): RegExp =>
  new RegExp(`^${prefix}-${exclude ? `(?!${exclude})` : ''}(?:${CLIENT_ID}-)?[A-Za-z0-9._:-]{1,${maxKey}}$`);

/** Formats zod issues as `field: message; field: message`, naming each field. */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
}

// ── schemas more than one kind is built from ──

export const PUSH_EVENT_TYPES = [
  'factor.created',
  'factor.verified',
  'factor.deleted',
  'challenge.approved',
  'challenge.denied',
] as const;
export type PushEventType = (typeof PUSH_EVENT_TYPES)[number];

/** The Stripe Identity `identity.verification_session.*` events the workflows act on (without the prefix). */
export const IDENTITY_EVENT_TYPES = [
  'created',
  'processing',
  'verified',
  'requires_input',
  'canceled',
  'redacted',
] as const;
export type IdentityEventType = (typeof IDENTITY_EVENT_TYPES)[number];

const e164Regex = /^\+[1-9]\d{6,14}$/;
const E164_MESSAGE = 'must be an E.164 phone number like +14155550100';
const PHONE_LIKE = /^\+?[\d\s().-]+$/;

/**
 * The building blocks several kinds share, each built on its first use. Kind modules compose them in their own
 * `schemas()`; the API uses them for request bodies and configuration.
 */
export const shared = {
  /** A real phone number in E.164 form (libphonenumber's metadata, not only the shape). */
  e164: lazy('common.e164', () =>
    z
      .string()
      .regex(e164Regex, E164_MESSAGE)
      .refine((v) => isValidPhoneNumber(v), 'is not a valid phone number'),
  ),
  /** A phone number in E.164 form (shape only: an SMS gateway forwards what its caller gives it). */
  e164Shape: lazy('common.e164Shape', () => z.string().regex(e164Regex, E164_MESSAGE)),
  /** A reference supplied by the caller: becomes part of the workflow ID, so a repeated start is idempotent. */
  reference: lazy('common.reference', () =>
    z.string().regex(/^[A-Za-z0-9._:-]{1,34}$/, 'must be 1-34 characters of A-Z a-z 0-9 . _ : -'),
  ),
  /**
   * An API client's id: 1-32 letters and digits. The REST API fills it in from the caller's credential (callers cannot
   * set it); it prefixes the workflow IDs of the client's verifications, so two clients' references never collide,
   * and is kept in the `VerificationClient` search attribute. Temporal callers may set it; children inherit it.
   */
  clientId: lazy('common.clientId', () =>
    z.string().regex(new RegExp(`^${CLIENT_ID}$`), 'must be 1-32 letters or digits'),
  ),
  /**
   * A sender name / brand shown to the user (Vonage's sender-name rules): 1-16 printable characters, no control,
   * bidirectional-override, zero-width or line-separator characters (they disguise who is writing), no edge spaces.
   */
  brand: lazy('common.brand', () =>
    z
      .string()
      .min(1, 'must be 1-16 characters')
      .max(16, 'must be 1-16 characters')
      .refine((v) => v === v.trim(), 'must not start or end with spaces')
      .refine(
        (v) => !/[\p{C}\p{Zl}\p{Zp}]/u.test(v),
        'must be printable: no control, bidi, zero-width or line-separator characters',
      ),
  ),
  /** The name of a message template configured for the API client or the SMS gateway (never free text). */
  templateName: lazy('common.templateName', () =>
    z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'must be the name of a configured template (1-32 of a-z 0-9 _ -)'),
  ),
  /** A configured SMS gateway's name (SMS_GATEWAYS; `sandbox`, `sandbox-500`, `sandbox-hang` in sandbox mode). */
  gatewayName: lazy('common.gatewayName', () =>
    z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/, 'must be a gateway name: 1-32 characters of A-Z a-z 0-9 _ . -'),
  ),
  /** A message template with the Auth0 custom SMS gateway's macros: `@@password@@` (the code, required) and `@@brand@@`. */
  otpTemplate: lazy('common.otpTemplate', () =>
    z
      .string()
      .min(1)
      .max(320)
      .refine((t) => t.includes('@@password@@'), 'must contain @@password@@'),
  ),
  /** The argument of every `cancel` update (it may be omitted). */
  cancelInput: lazy('common.cancelInput', () => z.strictObject({ reason: z.string().max(200).optional() })),
  /**
   * A phone-provider callback (Vonage Verify v2 callbacks, Vonage SMS API delivery receipts), normalized by the
   * webhook controller. `eventId` dedupes repeated deliveries.
   */
  providerEvent: lazy('common.providerEvent', () =>
    z.strictObject({
      eventId: z.string().min(1).max(200),
      provider: z.enum(PHONE_PROVIDERS),
      /** The provider's request/session id the event is about (Vonage request_id). */
      ref: z.string().min(1).max(100),
      channel: z.enum(CHANNELS).optional(),
      status: z.enum(['action_pending', 'failed', 'completed', 'user_rejected', 'expired', 'blocked']),
      checkUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
      occurredAt: z.string().optional(),
    }),
  ),
  /**
   * A Twilio Verify Push entity identity: immutable and not PII (a UUID, GUID or user SID), 8-64 dash-separated
   * alphanumerics as Twilio requires. Phone numbers and e-mail addresses are refused with a message saying why.
   */
  pushIdentity: lazy('common.pushIdentity', () =>
    z.string().superRefine((v, ctx) => {
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
    }),
  ),
  /** A Twilio push Factor SID. */
  factorSid: lazy('common.factorSid', () =>
    z.string().regex(/^YF[0-9a-fA-F]{32}$/, 'must be a Factor SID (YF + 32 hex)'),
  ),
  /** A Twilio Verify Push webhook, normalized by the webhook controller. `eventId` (the webhook uuid) dedupes. */
  pushProviderEvent: lazy('common.pushProviderEvent', () =>
    z.strictObject({
      eventId: z.string().min(1).max(200),
      provider: z.literal('twilio'),
      type: z.enum(PUSH_EVENT_TYPES),
      identity: z.string().min(1).max(64),
      factorSid: z.string().min(1).max(64).optional(),
      challengeSid: z.string().min(1).max(64).optional(),
      occurredAt: z.string().optional(),
    }),
  ),
  /**
   * A Stripe `identity.verification_session.*` event, normalized by the webhook controller: the session as the event
   * saw it, without PII (events carry no verified outputs) and without the client secret. `eventId` dedupes.
   */
  identityProviderEvent: lazy('common.identityProviderEvent', () =>
    z.strictObject({
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
    }),
  ),
};

export type CancelInput = z.infer<ReturnType<typeof shared.cancelInput>>;
/** A normalized phone-provider callback (`providerEvent` of phoneVerification and smsDelivery). */
export type ProviderEvent = z.infer<ReturnType<typeof shared.providerEvent>>;
/** A normalized Twilio Verify Push webhook (`providerEvent` of pushVerification and pushEnrollment). */
export type PushProviderEvent = z.infer<ReturnType<typeof shared.pushProviderEvent>>;
/** A normalized Stripe Identity event (`providerEvent` of identityVerification and identityRedaction). */
export type IdentityProviderEvent = z.infer<ReturnType<typeof shared.identityProviderEvent>>;
