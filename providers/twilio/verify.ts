import { ApplicationFailure } from '@temporalio/common';
import twilio from 'twilio';
import { type Channel, FailureType } from '../../workflows/contract';
import { classifyTwilioError, TwilioHttpError, VerifyHttpClient } from './push';

/** Twilio Verify v2's channel names for ours (`voice` is Twilio's `call`, `silent_auth` its `sna`). */
export const TWILIO_CHANNELS: Record<Channel, 'sms' | 'call' | 'whatsapp' | 'email' | 'sna'> = {
  sms: 'sms',
  voice: 'call',
  whatsapp: 'whatsapp',
  email: 'email',
  silent_auth: 'sna',
};

/** Locales Twilio Verify takes with a region; every other locale is sent as its language (`en-us` → `en`). */
const REGIONAL_LOCALES = new Set(['en-gb', 'pt-br', 'zh-cn', 'zh-hk']);

/** Our `xx-yy` locale as Twilio Verify names it. */
export function twilioLocale(locale: string | undefined): string | undefined {
  if (!locale) return undefined;
  const lower = locale.toLowerCase();
  return REGIONAL_LOCALES.has(lower) ? lower : lower.split('-')[0];
}

export interface TwilioVerifyStartParams {
  channel: Channel;
  /** E.164 number, or the e-mail address of an email channel. */
  to: string;
  /** Sent as the verification's custom friendly name when the adapter is allowed to (`customFriendlyName`). */
  brand?: string;
  locale?: string;
}

export interface TwilioVerificationStarted {
  /** The Verification SID (VE…). */
  sid: string;
  /** silent_auth (`sna`): the URL the device opens over its mobile data connection, like Vonage's check_url. */
  snaUrl?: string;
}

/**
 * What a check tells: `completed` (approved), `invalid_code` (still pending), `too_many_attempts` (60202, or the
 * verification reached its maximum), `not_found` (20404: approved, expired or cancelled there — our durable state
 * knows which), and for silent auth `pending` (60519: the URL has not been processed yet) or `failed` (the carrier
 * could not confirm the number: fall back).
 */
export type TwilioCheckOutcome =
  'completed' | 'invalid_code' | 'not_found' | 'too_many_attempts' | 'pending' | 'failed';

export type TwilioVerificationStatus =
  'pending' | 'approved' | 'canceled' | 'max_attempts_reached' | 'deleted' | 'failed' | 'expired';

/** The narrow interface the phone activities use; the only door to Twilio Verify's Verifications. */
export interface TwilioVerify {
  startVerification(params: TwilioVerifyStartParams): Promise<TwilioVerificationStarted>;
  checkCode(verificationSid: string, code: string): Promise<TwilioCheckOutcome>;
  /** Silent network auth: asks for the result of the SNA URL the device opened (a check without a code). */
  checkSilentAuth(verificationSid: string): Promise<TwilioCheckOutcome>;
  /** The verification's status, or undefined when Twilio no longer has it (20404). */
  fetchStatus(verificationSid: string): Promise<TwilioVerificationStatus | undefined>;
  /** true when cancelled; false when it was already over (20404). */
  cancel(verificationSid: string): Promise<boolean>;
}

export interface TwilioVerifyOptions {
  accountSid: string;
  authToken: string;
  /** The Verify Service (VA…): its code length, code validity and channels' settings apply. */
  serviceSid: string;
  /** Replaces https://verify.twilio.com (the sandbox emulator, or a proxy). */
  apiBase?: string;
  timeoutMs?: number;
  /**
   * Send `brand` as the custom friendly name of each verification. Twilio accepts it only on accounts where the
   * feature is enabled (else 60200), so it is off unless configured.
   */
  customFriendlyName?: boolean;
}

/** Twilio error codes of a channel that will not deliver to this destination: Fraud Guard and geo permissions. */
const BLOCKED_CODES = new Set([60410, 60605]);
const INVALID_PARAMETER = 60200;
const MAX_CHECK_ATTEMPTS = 60202;
const SNA_RESULT_PENDING = 60519;

/**
 * Twilio Verify v2 Verifications over the `twilio` SDK: one verification per channel (sms, call, whatsapp, email, sna),
 * checked by VerificationCheck, cancelled by updating its status. Classifies every answer at this boundary: 60200 →
 * `InvalidDestination` (about `To`) or `InvalidProviderRequest`; 60203 → `ProviderLimitReached`; 60410 and 60605 →
 * `ChannelBlocked`; 401/403 → `ProviderAuthFailed` (all non-retryable); 429 (other than the limit codes), 5xx and the
 * network stay retryable with Retry-After as the next delay. Never logs destinations or codes.
 */
export class TwilioVerifyAdapter implements TwilioVerify {
  private readonly client: twilio.Twilio;

  constructor(private readonly options: TwilioVerifyOptions) {
    this.client = twilio(options.accountSid, options.authToken, {
      httpClient: new VerifyHttpClient(options.apiBase?.replace(/\/$/, ''), options.timeoutMs ?? 15_000),
    });
  }

  private get service() {
    return this.client.verify.v2.services(this.options.serviceSid);
  }

  async startVerification(params: TwilioVerifyStartParams): Promise<TwilioVerificationStarted> {
    try {
      const v = await this.service.verifications.create({
        to: params.to,
        channel: TWILIO_CHANNELS[params.channel],
        ...(twilioLocale(params.locale) ? { locale: twilioLocale(params.locale) } : {}),
        ...(this.options.customFriendlyName && params.brand ? { customFriendlyName: params.brand } : {}),
      });
      const snaUrl = (v.sna as { url?: unknown } | null)?.url;
      return { sid: v.sid, ...(typeof snaUrl === 'string' ? { snaUrl } : {}) };
    } catch (err) {
      throw classifyVerifyError(err, 'start verification');
    }
  }

  async checkCode(verificationSid: string, code: string): Promise<TwilioCheckOutcome> {
    try {
      const c = await this.service.verificationChecks.create({ verificationSid, code });
      return checkStatus(c.status);
    } catch (err) {
      // A code Twilio refuses as malformed is a wrong code, not an outage.
      if (err instanceof TwilioHttpError && err.code === INVALID_PARAMETER) return 'invalid_code';
      return checkError(err, 'check code');
    }
  }

  async checkSilentAuth(verificationSid: string): Promise<TwilioCheckOutcome> {
    try {
      const c = await this.service.verificationChecks.create({ verificationSid });
      const outcome = checkStatus(c.status);
      if (outcome !== 'invalid_code') return outcome;
      return c.snaAttemptsErrorCodes?.length ? 'failed' : 'pending';
    } catch (err) {
      if (err instanceof TwilioHttpError && err.code === SNA_RESULT_PENDING) return 'pending';
      return checkError(err, 'check silent auth');
    }
  }

  async fetchStatus(verificationSid: string): Promise<TwilioVerificationStatus | undefined> {
    try {
      const v = await this.service.verifications(verificationSid).fetch();
      return v.status as TwilioVerificationStatus;
    } catch (err) {
      if (err instanceof TwilioHttpError && err.status === 404) return undefined;
      throw classifyVerifyError(err, 'fetch verification');
    }
  }

  async cancel(verificationSid: string): Promise<boolean> {
    try {
      await this.service.verifications(verificationSid).update({ status: 'canceled' });
      return true;
    } catch (err) {
      if (err instanceof TwilioHttpError && err.status === 404) return false;
      throw classifyVerifyError(err, 'cancel verification');
    }
  }
}

function checkStatus(status: string): TwilioCheckOutcome {
  switch (status) {
    case 'approved':
      return 'completed';
    case 'pending':
      return 'invalid_code';
    case 'max_attempts_reached':
      return 'too_many_attempts';
    case 'failed':
      return 'failed';
    default:
      return 'not_found'; // canceled, expired, deleted: over there
  }
}

function checkError(err: unknown, what: string): TwilioCheckOutcome {
  if (err instanceof TwilioHttpError) {
    if (err.code === MAX_CHECK_ATTEMPTS) return 'too_many_attempts';
    if (err.status === 404) return 'not_found';
  }
  throw classifyVerifyError(err, what);
}

/**
 * A Twilio Verify error as a typed failure: the codes of this API first (blocked channels, an invalid `To`), then the
 * common Twilio classification (limits, auth, 404, retryable outages).
 */
export function classifyVerifyError(err: unknown, what: string): Error {
  if (err instanceof TwilioHttpError && err.code !== undefined) {
    // Twilio's 60200 message can quote the rejected value (a phone number): only its parameter is kept.
    const aboutTo = err.code === INVALID_PARAMETER && /\bto\b/i.test(err.message);
    const said =
      err.code === INVALID_PARAMETER
        ? `HTTP ${err.status} 60200 invalid parameter${aboutTo ? ' To' : ''}`
        : err.message;
    const failure = (type: FailureType) =>
      ApplicationFailure.create({
        type,
        message: `Twilio ${what} failed: ${said}`,
        nonRetryable: true,
        details: [{ status: err.status, code: err.code }],
      });
    if (BLOCKED_CODES.has(err.code)) return failure(FailureType.ChannelBlocked);
    if (err.code === INVALID_PARAMETER) {
      return failure(aboutTo ? FailureType.InvalidDestination : FailureType.InvalidProviderRequest);
    }
  }
  return classifyTwilioError(err, what);
}
