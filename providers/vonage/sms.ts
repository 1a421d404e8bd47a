import { ApplicationFailure } from '@temporalio/common';
import { Vonage } from '@vonage/server-sdk';
import { FailureType } from '../../workflows/contract';
import { retryAfterMs } from '../retry-after';

export interface VonageSmsParams {
  /** E.164 (with or without `+`). */
  to: string;
  /** A number or an alphanumeric sender id. */
  from: string;
  text: string;
  /** Echoed in delivery receipts (`client-ref`, ≤ 100 chars): the workflow ID, so receipts route without a lookup. */
  clientRef?: string;
}

export interface VonageSmsSent {
  /** One message-id per part of a long message; each part gets its own delivery receipt. */
  messageIds: string[];
}

/** The narrow interface the activities use; the only door to the Vonage SMS API. */
export interface VonageSms {
  send(params: VonageSmsParams): Promise<VonageSmsSent>;
}

export interface VonageSmsOptions {
  apiKey: string;
  apiSecret: string;
  /** Host override of `https://rest.nexmo.com` (the sandbox emulator). */
  restHost?: string;
  /** Where delivery receipts go (the `callback` parameter): our `/webhooks/vonage-sms`. */
  callbackUrl?: string;
  timeoutMs?: number;
}

interface SmsMessageResult {
  status?: string;
  errorText?: string;
  messageId?: string;
}

/** SMS API statuses (in a 200 body) that retrying may fix. */
const RETRYABLE = new Set(['1', '5']);
/** Statuses about our credentials. */
const AUTH = new Set(['4', '14', '32']);
/** Statuses about the destination. */
const DESTINATION = new Set(['7', '29', '33']);

/**
 * The Vonage SMS API (`POST /sms/json`) over `@vonage/server-sdk`, delivery receipts requested. Vonage answers
 * HTTP 200 with a status per message part: classified here — throttled/internal (1, 5) and HTTP 429/5xx/network
 * retryable; credentials (4, 14, 32) `ProviderAuthFailed`; barred/non-whitelisted/deactivated numbers and an invalid
 * `to` `InvalidDestination`; anything else `InvalidProviderRequest` (non-retryable). Never logs numbers or texts.
 */
export class VonageSmsAdapter implements VonageSms {
  private readonly client: Vonage;

  constructor(private readonly options: VonageSmsOptions) {
    this.client = new Vonage(
      { apiKey: options.apiKey, apiSecret: options.apiSecret },
      { restHost: options.restHost?.replace(/\/$/, ''), timeout: options.timeoutMs ?? 15_000 },
    );
  }

  async send(params: VonageSmsParams): Promise<VonageSmsSent> {
    try {
      const res = await this.client.sms.send({
        to: params.to.replace(/\D/g, ''),
        // A sender that is a phone number goes as digits; an alphanumeric sender id as is.
        from: /^\+?[\d\s().-]+$/.test(params.from) ? params.from.replace(/\D/g, '') : params.from,
        text: params.text,
        clientRef: params.clientRef,
        statusReportReq: true,
        ...(this.options.callbackUrl ? { callback: this.options.callbackUrl } : {}),
      });
      const messages = (res.messages ?? []) as SmsMessageResult[];
      return { messageIds: messages.map((m) => m.messageId).filter((id): id is string => !!id) };
    } catch (err) {
      throw classify(err);
    }
  }
}

function classify(err: unknown): Error {
  if (err instanceof ApplicationFailure) return err;
  const failed = (err as { getFailedMessages?: () => SmsMessageResult[] }).getFailedMessages?.();
  if (failed && failed.length > 0) {
    const { status = '', errorText = '' } = failed[0];
    const message = `Vonage SMS rejected the message: status ${status}${errorText ? ` (${errorText})` : ''}`;
    if (RETRYABLE.has(status)) {
      return ApplicationFailure.create({ type: 'ProviderUnavailable', message, nextRetryDelay: 1000 });
    }
    const type = AUTH.has(status)
      ? FailureType.ProviderAuthFailed
      : DESTINATION.has(status) || (status === '3' && /\bto\b/i.test(errorText))
        ? FailureType.InvalidDestination
        : FailureType.InvalidProviderRequest;
    return ApplicationFailure.create({ type, message, nonRetryable: true });
  }
  const response = (err as { response?: { status?: number; headers?: { get(name: string): string | null } } }).response;
  const status = response?.status;
  if (status === undefined) return err instanceof Error ? err : new Error(String(err)); // network: retried
  const message = `Vonage SMS failed: HTTP ${status}`;
  if (status === 401 || status === 403) {
    return ApplicationFailure.create({ type: FailureType.ProviderAuthFailed, message, nonRetryable: true });
  }
  return ApplicationFailure.create({
    type: 'ProviderUnavailable',
    message,
    nonRetryable: status < 500 && status !== 429 && status !== 408,
    nextRetryDelay: retryAfterMs(response?.headers?.get('retry-after') ?? null),
  });
}
