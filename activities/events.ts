import { activityInfo } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { Webhook } from 'standardwebhooks';
import { eventDeliveryContract, FailureType, type VerificationEvent } from '../workflows/contract';

/** Where an API client's events go, and the Standard Webhooks secret (`whsec_<base64>`) they are signed with. */
export interface EventEndpoint {
  url: string;
  secret: string;
}

/** The events endpoints of the API clients that have one (CLIENTS_FILE `events`), by client id. */
export type EventEndpoints = Record<string, EventEndpoint>;

/** How long one try waits for the endpoint's answer. */
const TRY_TIMEOUT_MS = 15_000;

/**
 * The activity of `eventDelivery`: one signed POST of one event. Signed with the Standard Webhooks scheme by the
 * `standardwebhooks` library (`webhook-id` = the event id, the same on every try; `webhook-timestamp` = this try), so
 * a receiver verifies it with any Standard Webhooks library. The answer is classified here: 2xx delivered; 410 →
 * non-retryable `EndpointGone`; 408, 429, 5xx, network errors and timeouts → retried by Temporal with backoff; any
 * other 4xx, or a redirect → retried until the `rejectedTries`th try, then non-retryable `EventRejected` (parked).
 */
export const createEventActivities = (deps: { events?: EventEndpoints }) => {
  const signers = new Map<string, Webhook>();
  const signer = (secret: string): Webhook => {
    let w = signers.get(secret);
    if (!w) signers.set(secret, (w = new Webhook(secret)));
    return w;
  };
  return {
    async deliverEvent(req: {
      client: string;
      event: VerificationEvent;
    }): Promise<{ statusCode: number; attempt: number }> {
      const attempt = activityInfo().attempt;
      const endpoint = deps.events?.[req.client];
      if (!endpoint) {
        throw ApplicationFailure.create({
          type: FailureType.EventsNotConfigured,
          message: `no events endpoint is configured for client ${req.client}`,
          nonRetryable: true,
        });
      }
      const body = JSON.stringify(req.event);
      const headers = signedHeaders(signer(endpoint.secret), req.event.id, body);
      let res: Response;
      try {
        res = await fetch(endpoint.url, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'verifyflow-events/1' },
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(TRY_TIMEOUT_MS),
        });
      } catch (err) {
        // Unreachable, reset, timed out: retried (the URL is config, not a secret; the body is not logged).
        throw new Error(`events endpoint unreachable: ${(err as Error).name}: ${(err as Error).message}`);
      }
      await res.body?.cancel().catch(() => undefined);
      const statusCode = res.status;
      if (statusCode >= 200 && statusCode < 300) return { statusCode, attempt };
      const details = [{ statusCode, attempt }];
      if (statusCode === 410) {
        throw ApplicationFailure.create({
          type: FailureType.EndpointGone,
          message: 'the events endpoint answered 410 Gone',
          details,
          nonRetryable: true,
        });
      }
      // A redirect is not followed (the configured URL is the endpoint): refused like a 4xx.
      const rejected = statusCode >= 300 && statusCode < 500 && statusCode !== 408 && statusCode !== 429;
      if (rejected) {
        throw ApplicationFailure.create({
          type: FailureType.EventRejected,
          message: `the events endpoint answered ${statusCode}`,
          details,
          nonRetryable: attempt >= eventDeliveryContract.defaults.rejectedTries,
        });
      }
      throw ApplicationFailure.create({
        type: 'EndpointUnavailable',
        message: `the events endpoint answered ${statusCode}`,
        details,
      });
    },
  };
};

/** The three Standard Webhooks headers of `body` sent now under `id`. */
export function signedHeaders(webhook: Webhook, id: string, body: string, at = new Date()): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': webhook.sign(id, at, body),
  };
}
