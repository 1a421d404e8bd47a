import { randomUUID } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { verifyGatewayToken, type SmsGatewayAuth } from '../providers/sms-gateway/token';
import type { Outbox } from './outbox';

export interface SmsGatewayEmulatorOptions {
  /** The `gateway_authentication` a caller's token must match (sub, aud, HS256 secret). */
  auth: SmsGatewayAuth;
  outbox: Outbox;
  logger?: { log(msg: string): void; warn(msg: string): void };
  /**
   * Chaos: how long to hold the 200 of an accepted message, read on every request (the message is already in the
   * outbox: "sent", its answer not yet back — the moment a worker can die mid-send).
   */
  replyDelayMs?: () => number;
}

/** What reached the emulator, per route (for tests; never the recipient or the text). */
export interface SmsGatewayEmulatorCounts {
  accepted: number;
  refused: number;
  failed500: number;
  hanging: number;
}

const E164 = /^\+[1-9]\d{6,14}$/;
/** Sandbox numbers (digits only), see DESIGN.md "The sandbox". */
const SPECIAL = {
  neverDelivered: '15005550002',
  invalidNumber: '15005550003',
  unavailableTwice: '15005550004',
} as const;

/** The code in a message text, for the outbox (sandbox only): the last run of 4-10 digits. */
export function codeInText(text: string): string {
  return text.match(/\b\d{4,10}\b/g)?.pop() ?? '';
}

/**
 * A custom SMS gateway as Auth0 expects one (Auth0's custom SMS gateway docs), for the sandbox: `POST /` checks the bearer JWT (HS256,
 * `sub`/`aud`, expiry, at most 5 minutes of life: `verifyGatewayToken`), takes `{recipient, body, sender, req?}` and
 * answers 200 once the message is "sent" to the outbox (provider `sms_gateway`). Special numbers: +15005550002
 * accepted but never delivered (not in the outbox), +15005550003 refused (400), +15005550004 503 twice then accepted.
 * `POST /500` always answers 500; `POST /hang` never answers (the caller's timeout decides) — the `sandbox-500` and
 * `sandbox-hang` gateways.
 */
export class SmsGatewayEmulator {
  readonly counts: SmsGatewayEmulatorCounts = { accepted: 0, refused: 0, failed500: 0, hanging: 0 };
  private readonly hanging = new Set<Response>();
  private readonly unavailable = new Map<string, number>();

  constructor(private readonly opts: SmsGatewayEmulatorOptions) {}

  /** The routes; mount at `/sandbox/sms-gateway`. */
  router(): Router {
    const r = express.Router();
    r.use(express.json({ limit: '64kb' }));
    r.post('/', (req, res) => this.receive(req, res));
    r.post('/500', (_req, res) => {
      this.counts.failed500++;
      res.status(500).json({ error: 'sandbox-500: this gateway always fails' });
    });
    r.post('/hang', (req, res) => {
      this.counts.hanging++;
      this.hanging.add(res);
      req.on('close', () => this.hanging.delete(res));
    });
    return r;
  }

  /** Drops the connections the hanging gateway still holds. */
  close(): void {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
  }

  private receive(req: Request, res: Response): void {
    const verdict = verifyGatewayToken(req.get('authorization'), this.opts.auth);
    if (!verdict.ok) {
      this.counts.refused++;
      this.opts.logger?.warn(`sms gateway sandbox: 401 (${verdict.why})`);
      res.status(401).json({ error: 'unauthorized' });
      return;
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    const recipient = typeof body.recipient === 'string' ? body.recipient.replace(/[\s().-]/g, '') : '';
    const problems = [
      !E164.test(recipient) && 'recipient',
      (typeof body.body !== 'string' || body.body.length === 0 || body.body.length > 1600) && 'body',
      (typeof body.sender !== 'string' || body.sender.length === 0) && 'sender',
    ].filter(Boolean);
    const digits = recipient.replace(/\D/g, '');
    if (problems.length > 0 || digits === SPECIAL.invalidNumber) {
      this.counts.refused++;
      res.status(400).json({ error: `invalid ${problems.length ? problems.join(', ') : 'recipient'}` });
      return;
    }
    if (digits === SPECIAL.unavailableTwice) {
      const refusals = this.unavailable.get(digits) ?? 0;
      if (refusals < 2) {
        this.unavailable.set(digits, refusals + 1);
        res.status(503).set('Retry-After', '1').json({ error: 'temporarily unavailable' });
        return;
      }
      this.unavailable.delete(digits);
    }
    const id = randomUUID();
    this.counts.accepted++;
    if (digits !== SPECIAL.neverDelivered) {
      const text = body.body as string;
      this.opts.outbox.add({
        provider: 'sms_gateway',
        channel: 'sms',
        to: recipient,
        body: text,
        code: codeInText(text),
        ref: id,
      });
    }
    this.opts.logger?.log(`sms gateway sandbox: message ${id} accepted`);
    const delay = this.opts.replyDelayMs?.() ?? 0;
    if (delay > 0) setTimeout(() => res.status(200).json({ id }), delay).unref();
    else res.status(200).json({ id });
  }
}
