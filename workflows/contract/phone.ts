/**
 * The contract of `phoneVerification`: a phone number verified over channels (silent auth, SMS, voice, WhatsApp,
 * e-mail) served by Vonage Verify v2, Twilio Verify or our own OTP through an HTTP SMS gateway, the workflow owning the
 * fallback.
 * Deterministic and Node-free (imported by workflow code); its schemas are built on the first `schemas()` call.
 */
import { z } from 'zod';
import {
  CHANNELS,
  LIVE_STATUSES,
  PHONE_PROVIDERS,
  REASONS,
  TERMINAL_STATUSES,
  VERIFICATION_KINDS,
  shared,
  verificationIdFor,
  verificationIdPattern,
  type CancelInput,
  type Channel,
  type ProviderEvent,
} from './common';
import { lazy, query, signal, update, type WorkflowContract } from './descriptor';
import { eventDeliveryContract } from './events';

const schemas = lazy('phone', () => {
  const channelSpec = z
    .strictObject({
      channel: z.enum(CHANNELS),
      provider: z.enum(PHONE_PROVIDERS).default('vonage'),
      /** `sms_gateway` only: which configured gateway sends the code (default: the first configured one). */
      gateway: shared.gatewayName().optional(),
      timeoutSeconds: z.number().int().min(1).max(900).optional(),
      /** `email` channels only (and required there): the address the code goes to. Phone channels use the top-level `to`. */
      // A pattern of this schema's own: zod's shared one is frozen inside the workflow sandbox, and zod resets a
      // pattern's lastIndex before each test (a TypeError there would fail the workflow task, not the input).
      to: z
        .email({ pattern: new RegExp(z.regexes.email.source), error: 'must be an e-mail address' })
        .max(254)
        .optional(),
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

  const input = z.strictObject({
    to: shared.e164(),
    brand: shared.brand(),
    channels: z.array(channelSpec).min(1).max(6).optional(),
    codeLength: z.number().int().min(4).max(10).optional(),
    locale: z
      .string()
      .regex(/^[a-z]{2}-[a-z]{2}$/i, 'must look like en-us')
      .optional(),
    expirySeconds: z.number().int().min(5).max(3600).optional(),
    maxCodeAttempts: z.number().int().min(1).max(10).optional(),
    reference: shared.reference().optional(),
    /**
     * sms_gateway channels: the name of the SMS text to send, a template configured for the API client or the gateway
     * (default `default`: `Your @@brand@@ code is @@password@@`). Never free text.
     */
    messageTemplate: shared.templateName().optional(),
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
    client: shared.clientId().optional(),
    /**
     * Set by the REST API, which counted the first send against the abuse guard before starting the run: the first
     * provider request is then not counted again. Temporal callers leave it unset (the worker counts every send).
     */
    firstSendCounted: z.boolean().optional(),
    /** Outbound events of this verification (set by the REST API when the client has an events endpoint). */
    events: eventDeliveryContract.schemas().option.optional(),
  });

  /** A channel as the state shows it: never the destination number. */
  const channelState = z.object({
    channel: z.enum(CHANNELS),
    provider: z.enum(PHONE_PROVIDERS),
    gateway: z.string().optional(),
    timeoutSeconds: z.number().int(),
    status: z.enum(['waiting', 'active', 'failed', 'skipped', 'completed']),
    /** Why a failed channel failed, when the provider said so: `blocked` by its anti-fraud network block. */
    reason: z.enum(['blocked']).optional(),
  });

  /** What `getState` returns for a phone verification, and what the REST API shows. ISO timestamps. */
  const state = z.object({
    id: z.string(),
    kind: z.enum(VERIFICATION_KINDS),
    /** The API client that owns it (absent for runs started by Temporal callers without one). */
    client: z.string().optional(),
    status: z.enum([...LIVE_STATUSES, ...TERMINAL_STATUSES]),
    reason: z.enum(REASONS).optional(),
    channel: z.enum(CHANNELS).optional(),
    channelIndex: z.number().int(),
    channels: z.array(channelState),
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

  const checkCodeInput = z.strictObject({
    code: z.string().regex(/^[A-Za-z0-9]{4,32}$/, 'must be 4-32 letters or digits'),
    /** Silent auth only: the request_id the check URL redirect chain ended with (compared against ours). */
    requestId: z.string().min(1).max(64).optional(),
  });
  const checkCodeResult = z.object({
    status: z.enum(['completed', 'invalid_code', 'failed', 'expired']),
    attemptsLeft: z.number().int(),
    reason: z.enum([...REASONS, 'request_id_mismatch']).optional(),
  });

  return {
    input,
    /** Result of `phoneVerification`: the final state. */
    result: state,
    state,
    channelSpec,
    channelState,
    checkCodeInput,
    checkCodeResult,
    cancelInput: shared.cancelInput(),
    providerEvent: shared.providerEvent(),
  };
});

type Schemas = ReturnType<typeof schemas>;
export type ChannelSpec = z.input<Schemas['channelSpec']>;
/** Input of `phoneVerification`. Only `to` and `brand` are required. */
export type PhoneVerificationInput = z.input<Schemas['input']>;
export type ChannelState = z.infer<Schemas['channelState']>;
/** What `getState` returns for a phone verification (never the phone number). */
export type PhoneVerificationState = z.infer<Schemas['state']>;
/** Result of `phoneVerification`: the final state. */
export type PhoneVerificationResult = PhoneVerificationState;
export type CheckCodeInput = z.infer<Schemas['checkCodeInput']>;
export type CheckCodeResult = z.infer<Schemas['checkCodeResult']>;

/** What a check answers once the run is over: how it ended (no attempt spent, nothing checked). */
export function endedCheckResult(
  view: Pick<PhoneVerificationState, 'status' | 'attemptsLeft' | 'reason'>,
): CheckCodeResult {
  const status = view.status;
  return {
    status: status === 'completed' ? 'completed' : status === 'expired' ? 'expired' : 'failed',
    attemptsLeft: view.attemptsLeft,
    ...(view.reason && view.reason !== 'verified' ? { reason: view.reason } : {}),
  };
}

/** Default per-channel wait, in seconds, before the workflow moves to the next channel. */
const CHANNEL_TIMEOUT_SECONDS: Record<Channel, number> = {
  silent_auth: 60,
  sms: 120,
  voice: 120,
  whatsapp: 120,
  email: 300,
};

/** The phone verification's contract (see WorkflowContract). */
export const phoneContract = {
  type: 'phoneVerification',
  kind: 'phone' as const,
  summary: 'Verifies a phone number: silent auth → SMS → voice by default, the workflow owning the fallback.',
  idPrefix: 'phone',
  idPattern: verificationIdPattern('phone', 34),
  idScheme:
    '`phone-<client>-<reference>` for an API client (the REST API), `phone-<reference>` for a Temporal caller without ' +
    'one (start with conflict policy USE_EXISTING: a repeat joins the running one); random: `phone-<client>-<20 hex>`',
  /**
   * Workflow ID of a phone verification: `phone-<client>-<reference>` (deterministic with a reference, else from a
   * caller-made random key); `phone-<reference>` for Temporal callers without a client.
   */
  id: (referenceOrRandom: string, client?: string): string => verificationIdFor('phone', referenceOrRandom, client),
  schemas,
  messages: {
    /** Submit a code (OTP or silent-auth code). Validated before it enters history. */
    checkCode: update<CheckCodeResult, [CheckCodeInput]>('checkCode', {
      summary:
        'Submit a code (OTP, or the silent-auth code with the requestId its redirect chain returned). A run that ' +
        'ended verified answers `completed` until it closes; a run that ended otherwise refuses it (`NotLive`).',
      input: () => schemas().checkCodeInput,
      result: () => schemas().checkCodeResult,
    }),
    /** Give up on the current channel and move to the next one. Returns the new state. */
    nextChannel: update<PhoneVerificationState>('nextChannel', {
      summary: 'Move to the next channel now.',
      result: () => schemas().state,
    }),
    /**
     * Issue a new code on the current channel (sms_gateway channels): the previous code stops working at once.
     * Returns the state once the new code was sent (or the run moved on). Rejected with `ResendNotAvailable` on a
     * channel that is not ours or with no resends left, with `NotLive` when the verification is over.
     */
    resend: update<PhoneVerificationState>('resend', {
      summary:
        'sms_gateway channels: send a new code of ours; the previous one stops working (`ResendNotAvailable` elsewhere or with no resends left).',
      result: () => schemas().state,
    }),
    /**
     * Answers once the first send was made (its provider request created, or failed over): the state with the silent
     * auth `checkUrl`. The REST start sends it together with the start (update-with-start) when the first channel is
     * silent auth, so the caller gets the check URL in the start's answer instead of polling the state.
     */
    started: update<PhoneVerificationState>('started', {
      summary:
        'Answers once the first send was made, with the state (silent auth: its `checkUrl`); sent with the start (update-with-start).',
      result: () => schemas().state,
    }),
    /** Cancel a live verification (the argument may be omitted by any client). Returns the final state. */
    cancel: update<PhoneVerificationState, [CancelInput]>('cancel', {
      summary: 'Cancel (the argument may be omitted).',
      input: () => schemas().cancelInput,
      result: () => schemas().state,
    }),
    /** A normalized provider callback (signed webhook → signal). */
    providerEvent: signal<[ProviderEvent]>('providerEvent', {
      summary: 'A normalized provider callback (sent by our webhook controllers); deduplicated by eventId.',
      input: () => schemas().providerEvent,
    }),
    /** The current state. */
    getState: query<PhoneVerificationState>('getState', {
      summary: 'The current state.',
      result: () => schemas().state,
    }),
  },
  defaults: {
    /** The default channel order: silent auth, then SMS, then a voice call. */
    channels: [
      { channel: 'silent_auth', provider: 'vonage' },
      { channel: 'sms', provider: 'vonage' },
      { channel: 'voice', provider: 'vonage' },
    ] as ChannelSpec[],
    channelTimeoutSeconds: CHANNEL_TIMEOUT_SECONDS,
    expirySeconds: 600,
    maxCodeAttempts: 5,
    providerRetrySeconds: 120,
    /** Our own OTP (sms_gateway channels): text, template name, length, validity and resends (Auth0's `totp` defaults). */
    otp: {
      template: 'Your @@brand@@ code is @@password@@',
      /** The template every sms_gateway channel has. */
      templateName: 'default',
      length: 6,
      validitySeconds: 300,
      maxResends: 3,
    },
  },
} satisfies WorkflowContract;
