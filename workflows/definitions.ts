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
export interface ChannelState {
  channel: Channel;
  provider: PhoneProvider;
  timeoutSeconds: number;
  status: 'waiting' | 'active' | 'failed' | 'skipped' | 'completed';
}

/** What `getState` returns, and what the REST API shows. ISO timestamps. */
export interface VerificationState {
  id: string;
  kind: VerificationKind;
  status: VerificationStatus;
  reason?: Reason;
  channel?: Channel;
  channelIndex: number;
  channels: ChannelState[];
  attemptsLeft: number;
  checkUrl?: string;
  expiresAt: string;
  startedAt: string;
  updatedAt: string;
}

/** Result of `phoneVerification`: the final state. */
export type PhoneVerificationResult = VerificationState;

export const checkCodeInputSchema = z.strictObject({
  code: z.string().regex(/^[A-Za-z0-9]{4,32}$/, 'must be 4-32 letters or digits'),
  /** Silent auth only: the request_id the check URL redirect chain ended with (compared against ours). */
  requestId: z.string().min(1).max(64).optional(),
});
export type CheckCodeInput = z.infer<typeof checkCodeInputSchema>;
export interface CheckCodeResult {
  status: 'completed' | 'invalid_code' | 'failed' | 'expired';
  attemptsLeft: number;
  reason?: Reason | 'request_id_mismatch';
}

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
