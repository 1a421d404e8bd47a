import { ApplicationFailure } from '@temporalio/common';
import { Vonage } from '@vonage/server-sdk';
import { type Channel, FailureType } from '../../workflows/contract';
import { retryAfterMs } from '../retry-after';
import { VonageApplicationAuth } from './bearer';

export interface VonageStep {
  channel: Channel;
  to: string;
}

export interface VonageStartParams {
  brand: string;
  steps: VonageStep[];
  codeLength?: number;
  locale?: string;
  channelTimeoutSeconds: number;
  /** Echoed back in callbacks (1-40 chars): the workflow ID, so webhooks route without a lookup. */
  clientRef?: string;
}

export interface VonageStarted {
  requestId: string;
  checkUrl?: string;
  /**
   * The request was not created by this call: a retried start found the number busy with the request an earlier
   * attempt created (its answer lost) and took that one over. It has no check URL (silent auth then waits for the
   * `action_pending` callback or its channel timeout).
   */
  adopted?: boolean;
}

export interface VonageStartOptions {
  /**
   * Take over the request a 409 "Concurrent verifications to the same number" names instead of failing. Only for
   * a retried start (activity attempt > 1), where that request is almost surely the one the lost attempt created.
   */
  adoptConcurrent?: boolean;
}

export type VonageCheckOutcome =
  'completed' | 'invalid_code' | 'not_found' | 'too_many_attempts' | 'code_not_supported';

/** The narrow interface the activities use; the only door to the Vonage SDK. */
export interface VonageVerify {
  startVerification(params: VonageStartParams, options?: VonageStartOptions): Promise<VonageStarted>;
  checkCode(requestId: string, code: string): Promise<VonageCheckOutcome>;
  /** true when the request moved to its next step; false when it has none or is over (409/404). */
  nextWorkflow(requestId: string): Promise<boolean>;
  /** true when cancelled; false when the request was already over (404). */
  cancel(requestId: string): Promise<boolean>;
}

export interface VonageAdapterOptions {
  applicationId: string;
  /** PEM text or a path to the application's private key. */
  privateKey: string;
  /** Host override (the sandbox emulator, or a regional host). */
  apiHost?: string;
  timeoutMs?: number;
}

interface ProblemBody {
  /** 409 Conflict on a new request: the request that keeps the number busy. */
  request_id?: unknown;
  title?: string;
  detail?: string;
  invalid_parameters?: { name: string; reason: string }[];
}

/**
 * Vonage Verify v2 over `@vonage/server-sdk`. Classifies every provider answer at this boundary: rejections of our
 * input become non-retryable ApplicationFailures with a FailureType; 429/5xx/network stay retryable, with the
 * Retry-After header as the next retry delay. Never logs destinations or codes.
 */
export class VonageVerifyAdapter implements VonageVerify {
  private readonly client: Vonage;
  private readonly host: string;

  constructor(options: VonageAdapterOptions) {
    this.host = (options.apiHost ?? 'https://api.nexmo.com').replace(/\/$/, '');
    this.client = new Vonage(new VonageApplicationAuth(options).asCredentials(), {
      apiHost: this.host,
      timeout: options.timeoutMs ?? 15_000,
    });
  }

  async startVerification(params: VonageStartParams, options: VonageStartOptions = {}): Promise<VonageStarted> {
    try {
      const res = await this.client.verify2.newRequest({
        brand: params.brand,
        workflow: params.steps.map((s) => ({ channel: s.channel, to: s.to })),
        codeLength: params.codeLength,
        locale: params.locale,
        channelTimeout: params.channelTimeoutSeconds,
        clientRef: params.clientRef,
      } as never);
      return { requestId: res.requestId, checkUrl: res.checkUrl };
    } catch (err) {
      const body = httpStatus(err) === 409 ? await problem(err) : undefined;
      if (options.adoptConcurrent && typeof body?.request_id === 'string' && body.request_id) {
        return { requestId: body.request_id, adopted: true };
      }
      throw await classify(
        err,
        'start verification',
        { 409: FailureType.ProviderRejected, 400: FailureType.InvalidProviderRequest },
        body,
      );
    }
  }

  async checkCode(requestId: string, code: string): Promise<VonageCheckOutcome> {
    try {
      const status = await this.client.verify2.checkCode(requestId, code);
      if (status === 'completed') return 'completed';
      throw ApplicationFailure.create({
        type: FailureType.ProviderRejected,
        message: `unexpected check status ${status}`,
        nonRetryable: true,
      });
    } catch (err) {
      const status = httpStatus(err);
      if (status === 400) return 'invalid_code';
      if (status === 404) return 'not_found';
      if (status === 409) return 'code_not_supported';
      if (status === 410) return 'too_many_attempts';
      throw await classify(err, 'check code');
    }
  }

  async nextWorkflow(requestId: string): Promise<boolean> {
    // The SDK's nextWorkflow() turns every error into false; call the same endpoint so an outage stays retryable.
    return this.booleanCall(() =>
      this.client.verify2.sendPostRequest(`${this.host}/v2/verify/${encodeURIComponent(requestId)}/next_workflow`),
    );
  }

  async cancel(requestId: string): Promise<boolean> {
    return this.booleanCall(() =>
      this.client.verify2.sendDeleteRequest(`${this.host}/v2/verify/${encodeURIComponent(requestId)}`),
    );
  }

  private async booleanCall(fn: () => Promise<unknown>): Promise<boolean> {
    try {
      await fn();
      return true;
    } catch (err) {
      const status = httpStatus(err);
      if (status === 404 || status === 409) return false;
      throw await classify(err, 'request');
    }
  }
}

function httpStatus(err: unknown): number | undefined {
  return (err as { response?: { status?: number } })?.response?.status;
}

async function problem(err: unknown): Promise<ProblemBody | undefined> {
  const response = (err as { response?: { json?: () => Promise<unknown>; bodyUsed?: boolean } })?.response;
  if (!response?.json || response.bodyUsed) return undefined;
  try {
    return (await response.json()) as ProblemBody;
  } catch {
    return undefined;
  }
}

/** Turns a Vonage error into a typed failure: non-retryable for rejections, retryable for outages. */
async function classify(
  err: unknown,
  what: string,
  extra: Record<number, FailureType> = {},
  alreadyRead?: ProblemBody,
): Promise<Error> {
  if (err instanceof ApplicationFailure) return err;
  const status = httpStatus(err);
  if (status === undefined) return err instanceof Error ? err : new Error(String(err)); // network: retried
  const body = alreadyRead ?? (await problem(err));
  const detail = body?.invalid_parameters?.map((p) => `${p.name}: ${p.reason}`).join('; ') || body?.detail || '';
  const message = `Vonage ${what} failed: HTTP ${status}${body?.title ? ` ${body.title}` : ''}${detail ? ` (${detail})` : ''}`;
  if (status === 422) {
    const aboutDestination = body?.invalid_parameters?.some((p) => /workflow|\bto\b/i.test(`${p.name} ${p.reason}`));
    return ApplicationFailure.create({
      type: aboutDestination ? FailureType.InvalidDestination : FailureType.InvalidProviderRequest,
      message,
      nonRetryable: true,
    });
  }
  if (status === 401 || status === 403) {
    return ApplicationFailure.create({ type: FailureType.ProviderAuthFailed, message, nonRetryable: true });
  }
  if (extra[status]) return ApplicationFailure.create({ type: extra[status], message, nonRetryable: true });
  const headers = (err as { response?: { headers?: { get(name: string): string | null } } }).response?.headers;
  const delay = retryAfterMs(headers?.get('retry-after') ?? null);
  return ApplicationFailure.create({
    type: 'ProviderUnavailable',
    message,
    nonRetryable: status < 500 && status !== 429 && status !== 408,
    nextRetryDelay: delay,
  });
}
