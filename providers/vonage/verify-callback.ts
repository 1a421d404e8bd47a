import { createHash, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { verify, type JwtPayload } from 'jsonwebtoken';
import { type Channel, type ProviderEvent, shared } from '../../workflows/contract';

/** Why a callback was refused (for the log line; the HTTP answer is always a bare 401). */
export type VonageCallbackRejection =
  'missing_token' | 'bad_signature' | 'payload_hash_mismatch' | 'stale' | 'issued_in_future';

/** How far ahead of our clock a token's `iat` may be (clock skew between Vonage and us). */
export const VONAGE_CALLBACK_CLOCK_SKEW_SECONDS = 60;

/** The signature secrets as keys, each made once (a process has one or two: the current and the previous). */
const secretKeys = new Map<string, KeyObject>();

/**
 * The signature secret as a secret KeyObject. Given a string, jsonwebtoken (under the SDK's `verifySignature`) first
 * tries to parse it as a public key; that attempt fails with an exception on every callback, about 1 ms of the API's
 * CPU each. A KeyObject skips it.
 */
function secretKeyOf(secret: string): KeyObject {
  let key = secretKeys.get(secret);
  if (!key) {
    if (secretKeys.size >= 8) secretKeys.clear(); // never more than a few secrets; bounded all the same
    key = createSecretKey(Buffer.from(secret, 'utf8'));
    secretKeys.set(secret, key);
  }
  return key;
}

/**
 * Verifies a Vonage signed callback: the `Authorization: Bearer` JWT (HS256 with the signature secret, checked by
 * jsonwebtoken as the SDK's `verifySignature` does, with the secret as a key made once), its `payload_hash` claim
 * against SHA-256 of the exact raw body, and its age: issued at most `maxAgeSeconds` ago and not more than the clock
 * skew ahead (a token dated in the future would otherwise stay replayable for longer than the age limit).
 */
export function verifyVonageCallback(
  rawBody: Buffer,
  authorization: string | undefined,
  signatureSecret: string,
  maxAgeSeconds = 900,
  nowSeconds = Math.floor(Date.now() / 1000),
): { ok: true } | { ok: false; why: VonageCallbackRejection } {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  if (!token) return { ok: false, why: 'missing_token' };
  let claims: string | JwtPayload;
  try {
    claims = verify(token, secretKeyOf(signatureSecret), { algorithms: ['HS256'] });
  } catch {
    return { ok: false, why: 'bad_signature' };
  }
  if (typeof claims !== 'object' || typeof claims.payload_hash !== 'string') {
    return { ok: false, why: 'payload_hash_mismatch' };
  }
  const expected = createHash('sha256').update(rawBody).digest();
  const given = Buffer.from(claims.payload_hash, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, why: 'payload_hash_mismatch' };
  }
  // Vonage always sets iat: a token without one cannot be dated, so it is refused like a stale one.
  if (typeof claims.iat !== 'number' || nowSeconds - claims.iat > maxAgeSeconds) return { ok: false, why: 'stale' };
  if (claims.iat - nowSeconds > VONAGE_CALLBACK_CLOCK_SKEW_SECONDS) return { ok: false, why: 'issued_in_future' };
  return { ok: true };
}

/** A Verify v2 callback body (Vonage Verify v2 API reference, callbacks). */
export interface VonageCallbackBody {
  request_id?: string;
  triggered_at?: string;
  type?: string;
  channel?: string;
  status?: string;
  action?: { type?: string; check_url?: string };
  client_ref?: string;
}

/**
 * The `event` callback statuses the phone workflow acts on (Verify v2 callbacks). Not `action_pending`: it repeats the
 * silent auth `check_url` that the start response already carried (Verify v2: "If the request is successful, the
 * response returns HTTP 200 with the `check_url`"), and the run took it from there. Signalling it would cost every
 * silent auth verification one billed action (a signal) and change nothing. (A retried start that took over its lost
 * attempt's request has no URL: its silent auth times out to the next channel; docs/RELIABILITY.md, finding 1.)
 */
const STATUSES = ['failed', 'completed', 'user_rejected', 'expired', 'blocked'] as const;

/**
 * What every status and type of a Verify v2 callback does (rendered into docs/CONTRACT.md; a test keeps it covering
 * every status signalled).
 */
export const VONAGE_CALLBACK_HANDLING: readonly { callback: string; effect: string }[] = [
  {
    callback: '`event` `action_pending` (silent auth)',
    effect:
      'dropped (answered 200, nothing signalled): the start response carried the same `check_url`, and the state already shows it (status `action_pending`, `checkUrl`)',
  },
  {
    callback: '`event` `failed`',
    effect:
      'that step failed; Vonage moves to its next step by itself (the state follows); after its last step our next channel starts',
  },
  { callback: '`event` `completed`', effect: '`completed` / `verified`' },
  { callback: '`event` `user_rejected` (silent auth)', effect: '`failed` / `user_rejected`' },
  { callback: '`event` `expired`', effect: "the request's remaining steps fail; our next channel starts" },
  {
    callback: '`event` `blocked` (anti-fraud network block)',
    effect:
      'every remaining step of the request fails at once (channel `reason: blocked`), without waiting out a timeout; our next channel starts; with none left `failed` / `blocked`',
  },
  {
    callback: 'any `event` for a request that a code check of ours completed',
    effect:
      "dropped (answered 200, nothing signalled): the check noted the request in the abuse guard's store, and the run is verified — the `completed` that follows the check, or the `failed` of an earlier step that the check overtook, changes nothing",
  },
  { callback: '`summary` (any status)', effect: 'dropped: it repeats what the events said' },
  {
    callback: 'any other status (e.g. `unused` steps of a summary)',
    effect: 'dropped (answered 200, nothing signalled)',
  },
];

/**
 * Normalizes a callback into the contract's ProviderEvent; undefined for callbacks the workflow has no use for
 * (e.g. summaries). The event id is stable across redeliveries of the same callback, so the workflow dedupes them.
 */
export function normalizeVonageCallback(body: VonageCallbackBody): ProviderEvent | undefined {
  const status = STATUSES.find((s) => s === body.status);
  if (!body.request_id || !status || (body.type && body.type !== 'event')) return undefined;
  // Only what the contract accepts is signalled (a workflow would drop the rest, after paying for the signal).
  const event = shared.providerEvent().safeParse({
    eventId: `vonage:${body.request_id}:${body.channel ?? '-'}:${status}`,
    provider: 'vonage',
    ref: body.request_id,
    channel: body.channel as Channel | undefined,
    status,
    occurredAt: body.triggered_at,
  });
  return event.success ? event.data : undefined;
}
