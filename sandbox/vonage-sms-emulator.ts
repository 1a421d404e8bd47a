import { randomBytes, randomUUID } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import {
  vonageParamsSignature,
  type VonageSignatureMethod,
  type VonageSmsReceipt,
} from '../providers/vonage/sms-receipt';
import type { Outbox } from './outbox';
import { keepLast } from './retention';
import { codeInText } from './sms-gateway-emulator';
import { WebhookSender } from './webhook-sender';

export interface VonageSmsEmulatorOptions {
  apiKey: string;
  apiSecret: string;
  /** Signs delivery receipts (`sig`), like an account with signed webhooks. */
  signatureSecret: string;
  signatureMethod: VonageSignatureMethod;
  /** The account's delivery receipt URL, used when a message has no `callback`. */
  defaultCallbackUrl: () => string;
  outbox: Outbox;
  /** Delay before a receipt is sent. Default 100 ms. */
  receiptDelayMs?: number;
  /** Retries of a receipt answered non-2xx or failing on the network. Default 5. */
  receiptRetries?: number;
  /** First retry delay, doubled on every retry. Default 200 ms. */
  receiptRetryBaseMs?: number;
  logger?: { log(msg: string): void; warn(msg: string): void };
}

/** One message the emulator accepted (for tests; never the text). */
export interface EmulatedSms {
  messageIds: string[];
  clientRef?: string;
  receipt?: 'delivered' | 'failed';
}

/** Sandbox numbers (digits only), see DESIGN.md "The sandbox". */
const SPECIAL = {
  receiptFails: '15005550001',
  neverDelivered: '15005550002',
  invalidNumber: '15005550003',
  throttledTwice: '15005550004',
} as const;
const GSM = /^[A-Za-z0-9 \r\n@£$¥èéùìòÇØøÅå_ÆæßÉ!"#¤%&'()*+,\-./:;<=>?¡ÄÖÑÜ§¿äöñüà^{}\\[~\]|€]*$/;
const MAX_KEPT = 1000;

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * Offline emulator of the Vonage SMS API (`POST /sms/json`, JSON or form, credentials by Basic auth or
 * `api_key`/`api_secret`): HTTP 200 with a status per message part, as Vonage answers, and signed delivery receipts
 * (`sig` over the parameters with the account's signature secret) POSTed as JSON to the message's `callback` or the
 * account's receipt URL. Special numbers: +15005550001 a `failed` receipt (err-code 11, unroutable),
 * +15005550002 accepted but no receipt, +15005550003 status 3 (invalid `to`), +15005550004 status 1 (throttled)
 * twice then accepted. Messages land in the outbox (provider `vonage`, channel `sms`).
 */
export class VonageSmsEmulator {
  readonly messages: EmulatedSms[] = [];
  private readonly throttled = new Map<string, number>();
  private readonly receipts = new WebhookSender({
    name: 'vonage sms sandbox',
    timing: () => ({
      delayMs: this.opts.receiptDelayMs ?? 100,
      retries: this.opts.receiptRetries,
      retryBaseMs: this.opts.receiptRetryBaseMs,
    }),
    logger: { warn: (msg) => this.opts.logger?.warn(msg) },
  });

  constructor(private readonly opts: VonageSmsEmulatorOptions) {}

  /** Mount at the base the SDK's `restHost` points to (e.g. `/sandbox/vonage-sms`). */
  router(): Router {
    const r = express.Router();
    r.post('/sms/json', express.json({ limit: '100kb' }), express.urlencoded({ extended: false }), (req, res) =>
      this.send(req, res),
    );
    return r;
  }

  /** Stops pending receipts and their retries. */
  close(): void {
    this.receipts.close();
  }

  private send(req: Request, res: Response): void {
    const params: Record<string, unknown> = { ...(req.query as Record<string, unknown>), ...(req.body ?? {}) };
    const one = (status: string, errorText: string): void => {
      res.status(200).json({ 'message-count': '1', messages: [{ status, 'error-text': errorText }] });
    };

    const [key, secret] = this.credentials(req, params);
    if (key !== this.opts.apiKey || secret !== this.opts.apiSecret) return one('4', 'Bad Credentials');
    const str = (name: string) => (typeof params[name] === 'string' ? (params[name] as string) : undefined);
    const from = str('from');
    const to = str('to');
    const text = str('text');
    if (!from) return one('2', 'Missing from param');
    if (!to) return one('2', 'Missing to param');
    if (!text) return one('2', 'Missing text param');
    const digits = to.replace(/\D/g, '');
    if (!/^[1-9]\d{6,14}$/.test(digits) || digits === SPECIAL.invalidNumber) return one('3', 'Invalid to address');
    if (text.length > 3200) return one('12', 'Message too long');
    if (digits === SPECIAL.throttledTwice) {
      const n = this.throttled.get(digits) ?? 0;
      if (n < 2) {
        this.throttled.set(digits, n + 1);
        return one('1', 'Throughput Rate Exceeded - please wait [ 1000 ] and retry');
      }
      this.throttled.delete(digits);
    }

    const perPart = GSM.test(text) ? (text.length <= 160 ? 160 : 153) : text.length <= 70 ? 70 : 67;
    const parts = Math.max(1, Math.ceil(text.length / perPart));
    const clientRef = str('client-ref');
    const messageIds = Array.from({ length: parts }, () => randomBytes(8).toString('hex').toUpperCase());
    const sms: EmulatedSms = { messageIds, clientRef };
    this.messages.push(sms);
    keepLast(this.messages, MAX_KEPT);
    if (digits !== SPECIAL.neverDelivered) {
      this.opts.outbox.add({
        provider: 'vonage',
        channel: 'sms',
        to,
        body: text,
        code: codeInText(text),
        ref: messageIds[0],
      });
      const receipt = digits === SPECIAL.receiptFails ? 'failed' : 'delivered';
      sms.receipt = receipt;
      const callback = str('callback') ?? this.opts.defaultCallbackUrl();
      for (const id of messageIds) this.scheduleReceipt(callback, { id, to: digits, from, clientRef, receipt });
    }
    this.opts.logger?.log(`vonage sms sandbox: accepted ${parts} part(s)`);
    res.status(200).json({
      'message-count': String(parts),
      messages: messageIds.map((id) => ({
        to: digits,
        'message-id': id,
        status: '0',
        'remaining-balance': '10.00000000',
        'message-price': '0.03330000',
        network: '12345',
        ...(clientRef ? { 'client-ref': clientRef } : {}),
      })),
    });
  }

  private credentials(req: Request, params: Record<string, unknown>): [string?, string?] {
    const basic = /^Basic\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
    if (basic) {
      const decoded = Buffer.from(basic, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return [decoded.slice(0, colon), decoded.slice(colon + 1)];
    }
    return [params.api_key as string | undefined, params.api_secret as string | undefined];
  }

  private scheduleReceipt(
    url: string,
    m: { id: string; to: string; from: string; clientRef?: string; receipt: 'delivered' | 'failed' },
  ): void {
    const now = new Date();
    const receipt: VonageSmsReceipt = {
      msisdn: m.to,
      to: m.from,
      'network-code': '12345',
      messageId: m.id,
      price: '0.03330000',
      status: m.receipt,
      scts: `${String(now.getUTCFullYear()).slice(2)}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}`,
      'err-code': m.receipt === 'failed' ? '11' : '0',
      'api-key': this.opts.apiKey,
      'message-timestamp': now.toISOString().slice(0, 19).replace('T', ' '),
      ...(m.clientRef ? { 'client-ref': m.clientRef } : {}),
    };
    this.receipts.send({
      label: `receipt for ${receipt.messageId}`,
      request: () => {
        // Signed at send time, so a retried receipt carries a fresh timestamp (Vonage signs each delivery).
        const signed: Record<string, string> = {
          ...(receipt as Record<string, string>),
          timestamp: String(Math.floor(Date.now() / 1000)),
          nonce: randomUUID(),
        };
        signed.sig = vonageParamsSignature(signed, this.opts.signatureSecret, this.opts.signatureMethod);
        return { url, headers: { 'content-type': 'application/json' }, body: JSON.stringify(signed) };
      },
    });
  }
}
