/**
 * Stripe Identity webhooks (Stripe's "Receive webhook events" and Identity's `identity.verification_session.*`
 * events): the signature check of `/webhooks/stripe` and the normalization into the contract's identity event, and
 * the signing the sandbox and the benchmark use to send events the way Stripe does.
 */
import Stripe from 'stripe';
import { IDENTITY_EVENT_TYPES, type IdentityEventType, type IdentityProviderEvent } from '../../workflows/contract';

/** A verified Stripe webhook event, reduced to what routing and the workflows need. */
export interface StripeIdentityWebhook {
  /** The Stripe event type, e.g. `identity.verification_session.verified`. */
  stripeType: string;
  /** The normalized event, when it is an `identity.verification_session.*` event of a kind we know. */
  event?: IdentityProviderEvent;
  /** `metadata.workflow_id` of the session (absent once the session is redacted: metadata is erased). */
  workflowId?: string;
}

/** Thrown for a missing, forged or stale (beyond the tolerance) `Stripe-Signature`. */
export class StripeSignatureError extends Error {}
/** A correctly signed body that is not a Stripe event. */
export class StripeMalformedEventError extends Error {}

/**
 * Verifies a webhook with `stripe.webhooks.constructEvent` on the exact raw body (HMAC-SHA256 of `t.body`, timestamp
 * within `toleranceSeconds` of now on either side, 300 by default), then normalizes a VerificationSession event. The
 * client secret and anything else in the payload stay out of the result.
 */
export function verifyStripeWebhook(
  rawBody: Buffer | string,
  signatureHeader: string | undefined,
  secret: string,
  toleranceSeconds?: number,
): StripeIdentityWebhook {
  if (!signatureHeader) throw new StripeSignatureError('missing Stripe-Signature header');
  // stripe-node refuses timestamps too old but not timestamps in the future: a header signed for next week would be
  // replayable all week. Refuse both sides of the window.
  const tolerance = toleranceSeconds ?? Stripe.webhooks.DEFAULT_TOLERANCE;
  const signedAt = Number(/(?:^|,)\s*t=(\d+)/.exec(signatureHeader)?.[1]);
  if (signedAt > Math.floor(Date.now() / 1000) + tolerance) {
    throw new StripeSignatureError('Timestamp in the future, outside the tolerance zone');
  }
  let event: Stripe.Event;
  try {
    event = Stripe.webhooks.constructEvent(rawBody, signatureHeader, secret, toleranceSeconds);
  } catch (err) {
    throw new StripeSignatureError((err as Error).message);
  }
  // Correctly signed, yet not an event (a JSON array, no type): Stripe never sends that; refuse it as malformed.
  if (typeof event !== 'object' || event === null || Array.isArray(event) || typeof event.type !== 'string') {
    throw new StripeMalformedEventError('body: not a Stripe event (an object with a string `type`)');
  }
  const prefix = 'identity.verification_session.';
  if (!event.type.startsWith(prefix)) return { stripeType: event.type };
  const type = event.type.slice(prefix.length) as IdentityEventType;
  const session = event.data?.object as Stripe.Identity.VerificationSession | undefined;
  const workflowId = typeof session?.metadata?.workflow_id === 'string' ? session.metadata.workflow_id : undefined;
  if (
    !(IDENTITY_EVENT_TYPES as readonly string[]).includes(type) ||
    session?.object !== 'identity.verification_session' ||
    typeof session.id !== 'string'
  ) {
    return { stripeType: event.type, workflowId };
  }
  const report = session.last_verification_report;
  return {
    stripeType: event.type,
    workflowId,
    event: {
      eventId: event.id,
      provider: 'stripe',
      type,
      sessionId: session.id,
      created: event.created,
      sessionStatus: session.status,
      lastErrorCode: session.last_error?.code ?? null,
      lastErrorMessage: session.last_error?.reason ?? null,
      reportId: typeof report === 'string' ? report : (report?.id ?? null),
      redactionStatus: session.redaction?.status ?? null,
    },
  };
}

/**
 * A `Stripe-Signature` header for `payload` (`t=<timestamp>,v1=<HMAC-SHA256>`), as Stripe signs webhook events:
 * `stripe.webhooks.generateTestHeaderString`. For the sandbox's emulator and the benchmark's forged and stale probes.
 */
export function signStripeWebhook(payload: string, secret: string, timestamp?: number): string {
  return Stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp ? { timestamp } : {}) });
}

/** The Stripe API version the SDK speaks (events carry it). */
export const STRIPE_API_VERSION = Stripe.API_VERSION;
