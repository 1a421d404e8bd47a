import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { ProviderEvent } from '../../workflows/contract';

/** Vonage's signature methods for signed SMS API webhooks (the account's "signature method"). */
export const VONAGE_SIGNATURE_METHODS = ['md5hash', 'md5', 'sha1', 'sha256', 'sha512'] as const;
export type VonageSignatureMethod = (typeof VONAGE_SIGNATURE_METHODS)[number];

/** Why a receipt was refused (for the log line; the HTTP answer is a bare 401). */
export type VonageReceiptRejection = 'missing_signature' | 'bad_signature' | 'stale';

const stringParams = (params: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(params)
      .filter(([, v]) => v !== undefined && v !== null && typeof v !== 'object')
      .map(([k, v]) => [k, String(v)]),
  );

/**
 * Vonage's `sig` over request parameters: every parameter but `sig`, sorted by name, as `&name=value` with `&` and
 * `=` in values replaced by `_`; then MD5 of that plus the secret (`md5hash`) or an HMAC keyed with the secret.
 * Upper-case hex (Vonage compares case-insensitively). Same algorithm as `@vonage/sms` `verifySignature`.
 */
export function vonageParamsSignature(
  params: Record<string, unknown>,
  secret: string,
  method: VonageSignatureMethod,
): string {
  const p = stringParams(params);
  delete p.sig;
  const query = Object.keys(p)
    .sort()
    .map((k) => `&${k}=${p[k].replace(/[&=]/g, '_')}`)
    .join('');
  const hex =
    method === 'md5hash'
      ? createHash('md5')
          .update(query + secret)
          .digest('hex')
      : createHmac(method, secret).update(query).digest('hex');
  return hex.toUpperCase();
}

/**
 * Verifies a signed Vonage SMS API webhook (delivery receipt): `sig` against the parameters (constant-time), and
 * `timestamp` within `maxAgeSeconds` of now so a captured receipt cannot be replayed later.
 */
export function verifyVonageSmsReceipt(
  params: Record<string, unknown>,
  secret: string,
  method: VonageSignatureMethod,
  maxAgeSeconds = 300,
  nowSeconds = Math.floor(Date.now() / 1000),
): { ok: true } | { ok: false; why: VonageReceiptRejection } {
  const sig = typeof params.sig === 'string' ? params.sig : undefined;
  if (!sig) return { ok: false, why: 'missing_signature' };
  const expected = Buffer.from(vonageParamsSignature(params, secret, method));
  const given = Buffer.from(sig.toUpperCase());
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, why: 'bad_signature' };
  const timestamp = Number(params.timestamp);
  if (!Number.isFinite(timestamp) || Math.abs(nowSeconds - timestamp) > maxAgeSeconds)
    return { ok: false, why: 'stale' };
  return { ok: true };
}

/** A Vonage SMS API delivery receipt (DLR), as POSTed with the "POST-JSON" webhook method. */
export interface VonageSmsReceipt {
  msisdn?: string;
  to?: string;
  'network-code'?: string;
  messageId?: string;
  price?: string;
  status?: string;
  scts?: string;
  'err-code'?: string;
  'api-key'?: string;
  'client-ref'?: string;
  'message-timestamp'?: string;
  timestamp?: string;
  nonce?: string;
  sig?: string;
}

const RECEIPT_STATUS: Record<string, ProviderEvent['status'] | undefined> = {
  delivered: 'completed',
  failed: 'failed',
  rejected: 'failed',
  expired: 'expired',
};

/**
 * Normalizes a receipt into the contract's ProviderEvent (`ref` = message-id); undefined for intermediate statuses
 * (`accepted`, `buffered`, `unknown`) the workflow waits past. The event id is stable across redeliveries.
 */
export function normalizeVonageSmsReceipt(body: VonageSmsReceipt): ProviderEvent | undefined {
  const status = body.status ? RECEIPT_STATUS[body.status] : undefined;
  if (!body.messageId || !status) return undefined;
  return {
    eventId: `vonage-sms:${body.messageId}:${body.status}`,
    provider: 'vonage',
    ref: body.messageId,
    channel: 'sms',
    status,
    occurredAt: body['message-timestamp'],
  };
}
