import { ApplicationFailure } from '@temporalio/common';
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient';
import { FailureType } from '../../workflows/contract';
import { retryAfterMs } from '../retry-after';

/** The host every Verify v2 call of the SDK goes to; the sandbox replaces it with its own base URL. */
export const TWILIO_VERIFY_HOST = 'https://verify.twilio.com';

export interface TwilioPushOptions {
  accountSid: string;
  authToken: string;
  /** The Verify Service (VA…) that holds the push entities, factors and challenges. */
  serviceSid: string;
  /** Replaces https://verify.twilio.com (the sandbox emulator, or a proxy). */
  apiBase?: string;
  timeoutMs?: number;
}

export interface BrokeredAccessToken {
  token: string;
  identity: string;
  serviceSid: string;
  factorType: 'push';
  ttl?: number;
}

export interface PushFactor {
  sid: string;
  status: 'unverified' | 'verified';
  factorType: string;
  dateCreated?: string;
}

export interface PushChallengeParams {
  identity: string;
  factorSid: string;
  message: string;
  fields?: { label: string; value: string }[];
  hiddenDetails?: Record<string, string>;
  /** ISO date-time (Twilio keeps seconds). */
  expirationDate: string;
}

export type PushChallengeStatus = 'pending' | 'approved' | 'denied' | 'expired';

export interface PushChallenge {
  sid: string;
  factorSid: string;
  status: PushChallengeStatus;
  expirationDate?: string;
}

export type ResendOutcome = 'sent' | 'max_sends' | 'not_pending';

/** The narrow interface the activities and the API use; the only door to Twilio Verify Push. */
export interface TwilioPush {
  /** Brokers an enrollment access token for a device (Twilio Verify Push: "Obtain a Verify Push API access token"). */
  createAccessToken(identity: string): Promise<BrokeredAccessToken>;
  listFactors(identity: string): Promise<PushFactor[]>;
  /** The identity's newest verified push factor, or undefined (also when Twilio does not know the entity). */
  newestVerifiedFactor(identity: string): Promise<PushFactor | undefined>;
  createChallenge(params: PushChallengeParams): Promise<PushChallenge>;
  fetchChallenge(identity: string, challengeSid: string): Promise<PushChallenge>;
  /** Resends the push notification of the same challenge (Notifications resource), never a new challenge. */
  resendNotification(identity: string, challengeSid: string, ttlSeconds: number): Promise<ResendOutcome>;
}

/** A non-2xx answer of the Twilio API, with what the SDK's RestException drops (headers → Retry-After). */
export class TwilioHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: number | undefined,
    readonly moreInfo: string | undefined,
    readonly retryAfter: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'TwilioHttpError';
  }
}

/**
 * The SDK has no base-URL option: this client rewrites https://verify.twilio.com to the configured base, and turns
 * every non-2xx answer into a TwilioHttpError that keeps the status, Twilio's error code and Retry-After.
 */
export class VerifyHttpClient extends twilio.RequestClient {
  constructor(
    private readonly apiBase: string | undefined,
    timeoutMs: number,
  ) {
    super({ timeout: timeoutMs, keepAlive: true });
  }

  override async request<TData>(opts: RequestClient.RequestOptions<TData>) {
    const uri =
      this.apiBase && opts.uri.startsWith(TWILIO_VERIFY_HOST)
        ? this.apiBase + opts.uri.slice(TWILIO_VERIFY_HOST.length)
        : opts.uri;
    const res = await super.request({ ...opts, uri });
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    const body = parseBody(res.body);
    const header = (res.headers as Record<string, string | undefined> | undefined)?.['retry-after'];
    throw new TwilioHttpError(
      res.statusCode,
      typeof body?.code === 'number' ? body.code : undefined,
      typeof body?.more_info === 'string' ? body.more_info : undefined,
      header,
      `HTTP ${res.statusCode}${body?.code ? ` ${body.code}` : ''}${body?.message ? ` ${body.message}` : ''}`,
    );
  }
}

function parseBody(body: unknown): Record<string, unknown> | undefined {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
  return body && typeof body === 'object' ? (body as Record<string, unknown>) : undefined;
}

const iso = (d: Date | string | null | undefined): string | undefined =>
  d instanceof Date ? d.toISOString() : typeof d === 'string' ? d : undefined;

/**
 * Twilio Verify Push over the `twilio` SDK (access tokens, factors, challenges, notifications). Classifies every
 * provider answer at this boundary: 400/404 and Twilio's limit codes become non-retryable typed ApplicationFailures;
 * 401/403 `ProviderAuthFailed`; 429/5xx/network stay retryable with Retry-After as the next delay. Never logs
 * identities, messages or tokens.
 */
export class TwilioPushAdapter implements TwilioPush {
  private readonly client: twilio.Twilio;
  private readonly serviceSid: string;

  constructor(options: TwilioPushOptions) {
    this.serviceSid = options.serviceSid;
    this.client = twilio(options.accountSid, options.authToken, {
      httpClient: new VerifyHttpClient(options.apiBase?.replace(/\/$/, ''), options.timeoutMs ?? 15_000),
    });
  }

  private get service() {
    return this.client.verify.v2.services(this.serviceSid);
  }

  async createAccessToken(identity: string): Promise<BrokeredAccessToken> {
    try {
      const t = await this.service.accessTokens.create({ identity, factorType: 'push' });
      return { token: t.token, identity: t.entityIdentity, serviceSid: t.serviceSid, factorType: 'push', ttl: t.ttl };
    } catch (err) {
      throw classifyTwilioError(err, 'create access token');
    }
  }

  async listFactors(identity: string): Promise<PushFactor[]> {
    try {
      const factors = await this.service.entities(identity).factors.list({ limit: 100 });
      return factors.map((f) => ({
        sid: f.sid,
        status: f.status,
        factorType: f.factorType,
        dateCreated: iso(f.dateCreated),
      }));
    } catch (err) {
      if (err instanceof TwilioHttpError && err.status === 404) return [];
      throw classifyTwilioError(err, 'list factors');
    }
  }

  async newestVerifiedFactor(identity: string): Promise<PushFactor | undefined> {
    const verified = (await this.listFactors(identity)).filter(
      (f) => f.factorType === 'push' && f.status === 'verified',
    );
    return verified.sort((a, b) => (b.dateCreated ?? '').localeCompare(a.dateCreated ?? ''))[0];
  }

  async createChallenge(params: PushChallengeParams): Promise<PushChallenge> {
    try {
      const c = await this.service.entities(params.identity).challenges.create({
        factorSid: params.factorSid,
        'details.message': params.message,
        ...(params.fields?.length ? { 'details.fields': params.fields } : {}),
        ...(params.hiddenDetails ? { hiddenDetails: params.hiddenDetails } : {}),
        expirationDate: new Date(params.expirationDate),
      });
      return { sid: c.sid, factorSid: c.factorSid, status: c.status, expirationDate: iso(c.expirationDate) };
    } catch (err) {
      throw classifyTwilioError(err, 'create challenge');
    }
  }

  async fetchChallenge(identity: string, challengeSid: string): Promise<PushChallenge> {
    try {
      const c = await this.service.entities(identity).challenges(challengeSid).fetch();
      return { sid: c.sid, factorSid: c.factorSid, status: c.status, expirationDate: iso(c.expirationDate) };
    } catch (err) {
      throw classifyTwilioError(err, 'fetch challenge');
    }
  }

  async resendNotification(identity: string, challengeSid: string, ttlSeconds: number): Promise<ResendOutcome> {
    try {
      await this.service
        .entities(identity)
        .challenges(challengeSid)
        .notifications.create({ ttl: Math.max(0, Math.min(300, Math.round(ttlSeconds))) });
      return 'sent';
    } catch (err) {
      const failure = classifyTwilioError(err, 'resend notification');
      if (failure instanceof ApplicationFailure && failure.type === FailureType.ProviderLimitReached) {
        return 'max_sends';
      }
      // The challenge is no longer pending (answered or expired): there is nothing to resend.
      if (failure instanceof ApplicationFailure && failure.type === FailureType.InvalidProviderRequest) {
        return 'not_pending';
      }
      throw failure;
    }
  }
}

/** Twilio error codes that mean "a limit was reached": non-retryable even though Twilio answers them with 429. */
const LIMIT_CODES = new Set([60202, 60203]);

/**
 * Turns a Twilio error into a typed failure: 400 → `InvalidProviderRequest`, 404 → `ProviderNotFound`,
 * 60202/60203 → `ProviderLimitReached` (all non-retryable); 401/403 → `ProviderAuthFailed`; 429/5xx/network →
 * retryable `ProviderUnavailable` with `nextRetryDelay` from Retry-After.
 */
export function classifyTwilioError(err: unknown, what: string): Error {
  if (err instanceof ApplicationFailure) return err;
  if (!(err instanceof TwilioHttpError)) {
    const status = (err as { status?: unknown })?.status;
    if (typeof status !== 'number') return err instanceof Error ? err : new Error(String(err)); // network: retried
    const rest = err as { status: number; code?: number; moreInfo?: string; message?: string };
    return classifyTwilioError(
      new TwilioHttpError(
        rest.status,
        rest.code,
        rest.moreInfo,
        undefined,
        `HTTP ${rest.status} ${rest.message ?? ''}`,
      ),
      what,
    );
  }
  const message = `Twilio ${what} failed: ${err.message}`;
  const failure = (type: string, nonRetryable: boolean, nextRetryDelay?: number) =>
    ApplicationFailure.create({
      type,
      message,
      nonRetryable,
      nextRetryDelay,
      details: [{ status: err.status, code: err.code }],
    });
  if (err.code !== undefined && LIMIT_CODES.has(err.code)) return failure(FailureType.ProviderLimitReached, true);
  if (err.status === 401 || err.status === 403) return failure(FailureType.ProviderAuthFailed, true);
  if (err.status === 404) return failure(FailureType.ProviderNotFound, true);
  if (err.status === 429 || err.status >= 500 || err.status === 408) {
    return failure('ProviderUnavailable', false, retryAfterMs(err.retryAfter));
  }
  return failure(FailureType.InvalidProviderRequest, true);
}
