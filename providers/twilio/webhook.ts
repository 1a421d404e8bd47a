import twilio from 'twilio';
import {
  PUSH_EVENT_TYPES,
  PUSH_ROUTING_KEY,
  pushContract,
  type PushEventType,
  type PushProviderEvent,
} from '../../workflows/contract';

/**
 * The parameters of a Verify Push webhook (v2). Twilio POSTs them form-encoded
 * (application/x-www-form-urlencoded), like its other webhooks, and signs them with X-Twilio-Signature.
 */
export interface TwilioPushWebhook {
  uuid?: string;
  type?: string;
  account_sid?: string;
  service_sid?: string;
  entity_identity?: string;
  factor_sid?: string;
  factor_type?: string;
  factor_friendly_name?: string;
  challenge_sid?: string;
  challenge_details?: string;
  hidden_details?: string;
  metadata?: string;
  status?: string;
  date_created?: string;
}

/**
 * Form parameters of a raw body; a repeated key becomes an array (as the SDK's signature expects). The map has no
 * prototype, so keys such as `__proto__`, `constructor` or `prototype` are ordinary parameters: they neither reach an
 * object prototype nor read inherited values, and the signature is checked over exactly the parameters sent.
 */
export function parseForm(raw: Buffer | string): Record<string, string | string[]> {
  const params = Object.create(null) as Record<string, string | string[]>;
  for (const [key, value] of new URLSearchParams(raw.toString())) {
    const prev = params[key];
    params[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return params;
}

/**
 * Checks X-Twilio-Signature the way Verify signs its webhooks: HMAC-SHA1 (auth token) over the configured webhook
 * URL followed by the sorted form parameters — `twilio.validateRequest`. (`validateRequestWithBody` is for JSON
 * webhooks that carry a `bodySHA256` query parameter; Verify Push webhooks are form-encoded, so it does not apply.)
 */
export function verifyTwilioSignature(
  authToken: string,
  signature: string | undefined,
  url: string,
  params: Record<string, string | string[]>,
): boolean {
  if (!signature) return false;
  return twilio.validateRequest(authToken, signature, url, params);
}

/** The signature Twilio would send for these parameters (the sandbox signs its webhooks with it; tests too). */
export function signTwilioWebhook(authToken: string, url: string, params: Record<string, string | string[]>): string {
  return twilio.getExpectedTwilioSignature(authToken, url, params);
}

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** Normalizes a Verify Push webhook into a `providerEvent`; undefined for events we do not follow. */
export function normalizeTwilioPushWebhook(params: Record<string, string | string[]>): PushProviderEvent | undefined {
  const type = first(params.type);
  const identity = first(params.entity_identity);
  const uuid = first(params.uuid);
  if (!type || !(PUSH_EVENT_TYPES as readonly string[]).includes(type) || !identity || !uuid) return undefined;
  const challengeSid = first(params.challenge_sid);
  const factorSid = first(params.factor_sid);
  if (type.startsWith('challenge.') && !challengeSid) return undefined;
  if (type.startsWith('factor.') && !factorSid) return undefined;
  return {
    eventId: `twilio:${uuid}`,
    provider: 'twilio',
    type: type as PushEventType,
    identity,
    ...(factorSid ? { factorSid } : {}),
    ...(challengeSid ? { challengeSid } : {}),
    ...(first(params.date_created) ? { occurredAt: first(params.date_created) } : {}),
  };
}

/**
 * The push verification a `challenge.*` webhook belongs to, from the ID its run put in the challenge's hidden details
 * (`PUSH_ROUTING_KEY`); undefined for challenges without it (runs from before, or hidden details that left no room),
 * which are found by their ref. Only a push verification's ID is taken.
 */
export function routedPushVerificationId(params: Record<string, string | string[]>): string | undefined {
  const raw = first(params.hidden_details);
  if (!raw) return undefined;
  let hidden: unknown;
  try {
    hidden = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const id = hidden && typeof hidden === 'object' ? (hidden as Record<string, unknown>)[PUSH_ROUTING_KEY] : undefined;
  return typeof id === 'string' && pushContract.idPattern.test(id) ? id : undefined;
}
