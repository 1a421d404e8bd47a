import { ApplicationFailure } from '@temporalio/common';
import { FailureType, type SmsRequestInfo } from '../../workflows/contract';
import { retryAfterMs } from '../retry-after';
import { signGatewayToken, type SmsGatewayAuth } from './token';

/** Auth0's limit on a custom SMS gateway call; our default too. */
export const DEFAULT_SMS_GATEWAY_TIMEOUT_MS = 30_000;

/** One configured HTTP SMS gateway (the Auth0 custom SMS gateway's `gateway_url` + `gateway_authentication` + `from`). */
export interface SmsGatewayConfig {
  name: string;
  url: string;
  /** `sender` of every message through this gateway; else the caller's (the brand for our own OTP). */
  sender?: string;
  /** Without it no Authorization header is sent (the Auth0 custom SMS gateway makes authentication optional). */
  auth?: SmsGatewayAuth;
  /** Per-call timeout; default 30 s (Auth0's). */
  timeoutMs?: number;
  /** Forward `req` (end-user IP and user agent) when the caller has it, like Auth0's `forward_req_info`. */
  forwardReqInfo?: boolean;
  /** Named SMS texts of our own OTP on this gateway (`messageTemplate`): name → text with `@@password@@`. */
  templates?: Record<string, string>;
}

/** What a gateway receives (the Auth0 custom SMS gateway's body). */
export interface SmsGatewayMessage {
  recipient: string;
  body: string;
  sender: string;
  req?: SmsRequestInfo;
}

export interface SmsGatewaySent {
  gateway: string;
  status: number;
}

/** The narrow interface the activities use to reach HTTP SMS gateways. */
export interface SmsGateways {
  /** Names of the configured gateways, the default one first. */
  names(): string[];
  /** Sends one message through the named gateway (the default one when undefined). Resolves on 2xx only. */
  send(gateway: string | undefined, message: SmsGatewayMessage): Promise<SmsGatewaySent>;
}

/**
 * Posts `{recipient, body, sender}` (and `req` when the gateway forwards request info) to a configured gateway, the
 * way Auth0 calls a custom SMS gateway: JSON, `Authorization: Bearer <HS256 JWT>`, only the HTTP status counts.
 * Classified here: 2xx accepted; 408/429/5xx, timeouts and network errors retryable (Retry-After honoured);
 * 401/403 non-retryable `ProviderAuthFailed` and other 4xx non-retryable `ProviderRejected` (a retry cannot change
 * them: the workflow falls back to its next provider at once). Never logs recipients or bodies.
 */
export class HttpSmsGateways implements SmsGateways {
  private readonly byName = new Map<string, SmsGatewayConfig>();

  constructor(
    gateways: SmsGatewayConfig[],
    private readonly defaults: { timeoutMs?: number } = {},
  ) {
    for (const g of gateways) this.byName.set(g.name, g);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  async send(name: string | undefined, message: SmsGatewayMessage): Promise<SmsGatewaySent> {
    const gateway = name === undefined ? this.byName.values().next().value : this.byName.get(name);
    if (!gateway) {
      throw ApplicationFailure.create({
        type: 'ProviderNotConfigured',
        message: name === undefined ? 'no SMS gateway is configured' : `no SMS gateway named ${name} is configured`,
        nonRetryable: true,
      });
    }
    const timeoutMs = gateway.timeoutMs ?? this.defaults.timeoutMs ?? DEFAULT_SMS_GATEWAY_TIMEOUT_MS;
    const body: Record<string, unknown> = {
      recipient: message.recipient,
      body: message.body,
      sender: gateway.sender ?? message.sender,
    };
    if (gateway.forwardReqInfo && message.req) body.req = message.req;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (gateway.auth) headers.authorization = `Bearer ${signGatewayToken(gateway.auth)}`;

    let res: Response;
    try {
      res = await fetch(gateway.url, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
    } catch (err) {
      const timedOut = (err as Error)?.name === 'TimeoutError' || (err as Error)?.name === 'AbortError';
      throw ApplicationFailure.create({
        type: 'ProviderUnavailable',
        message: timedOut
          ? `SMS gateway ${gateway.name} did not answer within ${timeoutMs} ms`
          : `SMS gateway ${gateway.name} unreachable: ${(err as Error)?.message ?? String(err)}`,
        nonRetryable: false,
      });
    }
    // Only the status counts (Auth0 reads nothing else); the body is drained so the connection can be reused.
    await res.arrayBuffer().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return { gateway: gateway.name, status: res.status };

    const message_ = `SMS gateway ${gateway.name} answered HTTP ${res.status}`;
    if (res.status === 401 || res.status === 403) {
      throw ApplicationFailure.create({ type: FailureType.ProviderAuthFailed, message: message_, nonRetryable: true });
    }
    if (res.status === 408 || res.status === 429 || res.status >= 500) {
      throw ApplicationFailure.create({
        type: 'ProviderUnavailable',
        message: message_,
        nonRetryable: false,
        nextRetryDelay: retryAfterMs(res.headers.get('retry-after')),
      });
    }
    throw ApplicationFailure.create({ type: FailureType.ProviderRejected, message: message_, nonRetryable: true });
  }
}
