import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Outbox } from './outbox';
import { pruneOldest } from './retention';
import { invalid, notFound, replyAsTwilio, sendTwilioError, TwilioError } from './twilio-errors';

export interface TwilioVerificationsEmulatorOptions {
  accountSid: string;
  /** Authenticates API calls (Basic AccountSid:AuthToken). */
  authToken: string;
  /** The one Verify Service (VA…) this emulator holds. */
  serviceSid: string;
  /** Where codes "sent" by sms, call, whatsapp and email are recorded. */
  outbox: Outbox;
  /** The emulator's own base URL as seen from outside (for `sna.url`), e.g. `http://127.0.0.1:3000/sandbox/twilio`. */
  publicBaseUrl: () => string;
  /** The service's code length (Twilio: 4-10, default 6). */
  codeLength?: number;
  /** How long a verification stays pending (Twilio: 10 minutes). */
  validitySeconds?: number;
}

type TwilioChannel = 'sms' | 'call' | 'whatsapp' | 'email' | 'sna';
type Status = 'pending' | 'approved' | 'canceled' | 'max_attempts_reached' | 'expired';

interface Verification {
  sid: string;
  to: string;
  channel: TwilioChannel;
  status: Status;
  code: string;
  locale?: string;
  friendlyName?: string;
  sends: { attempt_sid: string; channel: TwilioChannel; time: string }[];
  checks: number;
  /** sna: whether the device opened the URL, and the SNA error codes of its attempts. */
  snaProcessed: boolean;
  snaErrors: { attempt_sid: string; code: number }[];
  createdAt: number;
  dateCreated: string;
  dateUpdated: string;
}

/** A snapshot of one emulated verification, for tests (the code included: sandbox only). */
export interface EmulatedVerification {
  sid: string;
  to: string;
  channel: TwilioChannel;
  status: Status;
  code: string;
  locale?: string;
  friendlyName?: string;
  sends: number;
  checks: number;
}

/**
 * Special numbers of the Twilio Verify emulator (digits of the E.164 number), each producing one of the answers the
 * adapter classifies. Every other number (and every e-mail address) delivers.
 */
export const TWILIO_SANDBOX_NUMBERS = {
  /** 400 60200 Invalid parameter `To`. */
  invalidParameter: '15005550101',
  /** 429 60203 Max send attempts reached. */
  maxSendAttempts: '15005550102',
  /** 403 60410 Fraud Guard: the destination's prefix is blocked. */
  fraudGuardBlocked: '15005550103',
  /** 400 60605 Geo permissions: the destination's country is not enabled. */
  geoPermissionBlocked: '15005550104',
  /** 503 twice, then accepted (the retry path). */
  unavailableTwice: '15005550105',
  /** Always 503: Twilio Verify is down (provider-down fallback). */
  unavailable: '15005550106',
  /** Silent network auth: the carrier cannot confirm the number (sna_attempts_error_codes [60500]). */
  snaFails: '15005550107',
  /** Accepted but never delivered (nothing in the outbox): the channel times out. */
  neverDelivered: '15005550108',
} as const;

const CHANNELS: readonly TwilioChannel[] = ['sms', 'call', 'whatsapp', 'email', 'sna'];
const MAX_SENDS = 5;
const MAX_CHECKS = 5;
const MAX_KEPT = 2000;
const E164 = /^\+[1-9]\d{6,14}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const sid = (prefix: string) => prefix + randomBytes(16).toString('hex');
const first = (v: unknown): string | undefined =>
  Array.isArray(v) ? (typeof v[0] === 'string' ? v[0] : undefined) : typeof v === 'string' ? v : undefined;
const digits = (to: string) => to.replace(/\D/g, '');

/**
 * Offline emulator of Twilio Verify v2's Verifications (sms, call, whatsapp, email, sna) and VerificationCheck, reached
 * by the real `twilio` SDK through the adapter's rewriting httpClient (mounted at `/sandbox/twilio` before the Push
 * emulator, which answers the other Verify v2 paths). Twilio's semantics: one pending verification per `To` (a new
 * start for it re-sends the same code on the new channel, at most 5 sends: 60203), 5 checks (then 60202), a
 * verification that is approved, expired, cancelled or at its maximum is gone (20404). Silent network auth hands out
 * an `sna.url` the device opens; the check without a code then tells the result (60519 until the URL was opened).
 */
export class TwilioVerificationsEmulator {
  private readonly verifications = new Map<string, Verification>();
  private readonly failures: { status: number; retryAfter?: number; left: number }[] = [];
  private readonly transient = new Map<string, number>();

  constructor(private readonly opts: TwilioVerificationsEmulatorOptions) {}

  /** The next `times` verification starts answer `status` (e.g. 503 with Retry-After). */
  failNextStarts(times: number, status = 503, retryAfter?: number): void {
    this.failures.push({ status, retryAfter, left: times });
  }

  /** Every verification kept, newest last (`to` filters by digits or e-mail). */
  list(filter: { to?: string } = {}): EmulatedVerification[] {
    return [...this.verifications.values()]
      .filter((v) => !filter.to || this.sameTo(v.to, filter.to))
      .map((v) => ({
        sid: v.sid,
        to: v.to,
        channel: v.channel,
        status: this.statusOf(v),
        code: v.code,
        locale: v.locale,
        friendlyName: v.friendlyName,
        sends: v.sends.length,
        checks: v.checks,
      }));
  }

  /** Test hook standing in for the device: opens the SNA URL of a verification. */
  openSnaUrl(verificationSid: string): string {
    const v = this.verifications.get(verificationSid);
    if (!v || v.channel !== 'sna' || this.statusOf(v) !== 'pending')
      return 'ErrorCode=-30&ErrorDescription=Invalid+URL';
    v.snaProcessed = true;
    if (digits(v.to) === TWILIO_SANDBOX_NUMBERS.snaFails) {
      v.snaErrors.push({ attempt_sid: v.sends[v.sends.length - 1].attempt_sid, code: 60500 });
      return 'ErrorCode=-10&ErrorDescription=Failure&Carrier=SANDBOX';
    }
    return 'ErrorCode=0&ErrorDescription=Success&Carrier=SANDBOX';
  }

  /** The Verifications routes, the SNA URL and a JSON helper; mount at `/sandbox/twilio` (other paths pass through). */
  router(): Router {
    const r = express.Router();
    const body = express.urlencoded({ extended: false, limit: '64kb' });
    const auth = (req: Request, res: Response, next: NextFunction) => {
      if (!this.authenticated(req)) return sendTwilioError(res, new TwilioError(401, 20003, 'Authenticate'));
      if (req.params.serviceSid !== this.opts.serviceSid) {
        return sendTwilioError(res, notFound(`/Services/${String(req.params.serviceSid)}`));
      }
      next();
    };
    const svc = '/v2/Services/:serviceSid';
    const form = (req: Request) => (req.body ?? {}) as Record<string, unknown>;

    r.get('/verifications', (req, res) =>
      res.set('Cache-Control', 'no-store').json(this.list({ to: first(req.query.to) })),
    );
    r.get('/sna/:sid', (req, res) => res.type('text/plain').send(this.openSnaUrl(String(req.params.sid))));

    r.post(`${svc}/Verifications`, body, auth, (req, res) => replyAsTwilio(res, () => this.start(form(req))));
    r.get(`${svc}/Verifications/:sid`, auth, (req, res) =>
      replyAsTwilio(res, () => ({ status: 200, body: this.json(this.pending(String(req.params.sid))) })),
    );
    r.post(`${svc}/Verifications/:sid`, body, auth, (req, res) =>
      replyAsTwilio(res, () => {
        const v = this.pending(String(req.params.sid));
        const status = first(form(req).Status);
        if (status !== 'canceled' && status !== 'approved') throw invalid('Invalid parameter: Status');
        v.status = status;
        v.dateUpdated = new Date().toISOString();
        return { status: 200, body: this.json(v) };
      }),
    );
    r.post(`${svc}/VerificationCheck`, body, auth, (req, res) => replyAsTwilio(res, () => this.check(form(req))));
    return r;
  }

  // ── the API ──

  private start(params: Record<string, unknown>): { status: number; body: unknown } {
    const to = first(params.To)?.trim() ?? '';
    const channel = first(params.Channel) as TwilioChannel | undefined;
    if (!channel || !CHANNELS.includes(channel)) throw invalid('Invalid parameter: Channel');
    if (channel === 'email' ? !EMAIL.test(to) : !E164.test(to)) throw invalid('Invalid parameter `To`');
    const failure = this.failures.find((f) => f.left > 0);
    if (failure) {
      failure.left--;
      throw new TwilioError(
        failure.status,
        failure.status === 429 ? 20429 : 20500,
        'Service unavailable',
        failure.retryAfter ? { 'Retry-After': String(failure.retryAfter) } : {},
      );
    }
    const n = digits(to);
    const special = channel === 'email' ? undefined : n;
    if (special === TWILIO_SANDBOX_NUMBERS.invalidParameter) throw invalid('Invalid parameter `To`');
    if (special === TWILIO_SANDBOX_NUMBERS.maxSendAttempts)
      throw new TwilioError(429, 60203, 'Max send attempts reached');
    if (special === TWILIO_SANDBOX_NUMBERS.fraudGuardBlocked) {
      throw new TwilioError(403, 60410, 'Verification delivery attempt blocked (Fraud Guard)');
    }
    if (special === TWILIO_SANDBOX_NUMBERS.geoPermissionBlocked) {
      throw new TwilioError(400, 60605, 'Verification delivery attempt blocked (geo permissions)');
    }
    if (special === TWILIO_SANDBOX_NUMBERS.unavailable) throw new TwilioError(503, 20500, 'Service unavailable');
    if (special === TWILIO_SANDBOX_NUMBERS.unavailableTwice) {
      const seen = this.transient.get(n) ?? 0;
      if (seen < 2) {
        this.transient.set(n, seen + 1);
        throw new TwilioError(503, 20500, 'Service unavailable');
      }
      this.transient.delete(n);
    }
    const now = new Date();
    // Twilio keeps one pending verification per To: a new start re-sends its code, on the channel asked for.
    let v = [...this.verifications.values()].find((x) => this.statusOf(x) === 'pending' && this.sameTo(x.to, to));
    if (v && v.sends.length >= MAX_SENDS) throw new TwilioError(429, 60203, 'Max send attempts reached');
    if (!v) {
      v = {
        sid: sid('VE'),
        to,
        channel,
        status: 'pending',
        code: Array.from({ length: this.opts.codeLength ?? 6 }, () => randomInt(10)).join(''),
        sends: [],
        checks: 0,
        snaProcessed: false,
        snaErrors: [],
        createdAt: now.getTime(),
        dateCreated: now.toISOString(),
        dateUpdated: now.toISOString(),
      };
      this.verifications.set(v.sid, v);
      pruneOldest(this.verifications, MAX_KEPT, (x) => this.statusOf(x) === 'pending');
    }
    v.channel = channel;
    v.locale = first(params.Locale) ?? v.locale;
    v.friendlyName = first(params.CustomFriendlyName) ?? v.friendlyName;
    v.sends.push({ attempt_sid: sid('VL'), channel, time: now.toISOString() });
    v.dateUpdated = now.toISOString();
    if (channel !== 'sna' && special !== TWILIO_SANDBOX_NUMBERS.neverDelivered) {
      this.opts.outbox.add({
        provider: 'twilio',
        channel,
        to,
        body: `Your ${v.friendlyName ?? 'verifyflow'} verification code is: ${v.code}`,
        code: v.code,
        ref: v.sid,
      });
    }
    return { status: 201, body: this.json(v) };
  }

  private check(params: Record<string, unknown>): { status: number; body: unknown } {
    const verificationSid = first(params.VerificationSid);
    const to = first(params.To);
    if (!verificationSid && !to) throw invalid('Either a To or VerificationSid must be specified');
    const v = verificationSid
      ? this.verifications.get(verificationSid)
      : [...this.verifications.values()].find((x) => this.statusOf(x) === 'pending' && this.sameTo(x.to, to!));
    if (!v || this.statusOf(v) !== 'pending') throw notFound(`/Services/${this.opts.serviceSid}/VerificationCheck`);
    const code = first(params.Code);
    if (v.channel === 'sna' && code === undefined) {
      if (!v.snaProcessed) throw new TwilioError(400, 60519, 'SNA Verification Result Pending');
      if (!v.snaErrors.length) v.status = 'approved';
      return { status: 200, body: this.checkJson(v) };
    }
    if (code === undefined || !/^[A-Za-z0-9]{4,10}$/.test(code)) throw invalid('Invalid parameter: Code');
    if (v.checks >= MAX_CHECKS) throw new TwilioError(429, 60202, 'Max check attempts reached');
    v.checks++;
    if (code.length === v.code.length && timingSafeEqual(Buffer.from(code), Buffer.from(v.code))) v.status = 'approved';
    v.dateUpdated = new Date().toISOString();
    return { status: 200, body: this.checkJson(v) };
  }

  // ── helpers ──

  private statusOf(v: Verification): Status {
    if (v.status === 'pending' && Date.now() - v.createdAt >= (this.opts.validitySeconds ?? 600) * 1000) {
      v.status = 'expired';
    }
    return v.status;
  }

  /** A verification Twilio still has (approved, expired, cancelled ones are deleted there: 20404). */
  private pending(verificationSid: string): Verification {
    const v = this.verifications.get(verificationSid);
    if (!v || this.statusOf(v) !== 'pending')
      throw notFound(`/Services/${this.opts.serviceSid}/Verifications/${verificationSid}`);
    return v;
  }

  private sameTo(a: string, b: string): boolean {
    return a.includes('@') || b.includes('@')
      ? a.trim().toLowerCase() === b.trim().toLowerCase()
      : digits(a) === digits(b);
  }

  private json(v: Verification) {
    const base = `https://verify.twilio.com/v2/Services/${this.opts.serviceSid}/Verifications/${v.sid}`;
    return {
      sid: v.sid,
      service_sid: this.opts.serviceSid,
      account_sid: this.opts.accountSid,
      to: v.to,
      channel: v.channel,
      status: v.status,
      valid: v.status === 'approved',
      lookup: {},
      amount: null,
      payee: null,
      send_code_attempts: v.sends,
      date_created: v.dateCreated,
      date_updated: v.dateUpdated,
      sna: v.channel === 'sna' ? { url: `${this.opts.publicBaseUrl()}/sna/${v.sid}` } : null,
      url: base,
    };
  }

  private checkJson(v: Verification) {
    return {
      sid: v.sid,
      service_sid: this.opts.serviceSid,
      account_sid: this.opts.accountSid,
      to: v.to,
      channel: v.channel,
      status: v.status,
      valid: v.status === 'approved',
      amount: null,
      payee: null,
      date_created: v.dateCreated,
      date_updated: v.dateUpdated,
      sna_attempts_error_codes: v.channel === 'sna' ? v.snaErrors : null,
    };
  }

  private authenticated(req: Request): boolean {
    const match = /^Basic\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    if (!match) return false;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0 || decoded.slice(0, colon) !== this.opts.accountSid) return false;
    const pass = Buffer.from(decoded.slice(colon + 1));
    const token = Buffer.from(this.opts.authToken);
    return pass.length === token.length && timingSafeEqual(pass, token);
  }
}
