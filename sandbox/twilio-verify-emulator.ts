import {
  createHmac,
  createPublicKey,
  randomBytes,
  randomUUID,
  timingSafeEqual,
  verify,
  type KeyObject,
} from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { signTwilioWebhook } from '../providers/twilio/webhook';
import { keepLast, pruneOldest } from './retention';
import { renderDevicePage } from './twilio-device-page';
import { WebhookSender } from './webhook-sender';
import { invalid, notFound, replyAsTwilio, sendTwilioError, TwilioError } from './twilio-errors';

export interface TwilioVerifyEmulatorOptions {
  accountSid: string;
  /** Authenticates API calls (Basic AccountSid:AuthToken), signs access tokens and webhooks (X-Twilio-Signature). */
  authToken: string;
  /** The one Verify Service (VA…) this emulator holds. */
  serviceSid: string;
  /** Where webhooks are POSTed (the app's /webhooks/twilio); signatures are computed over exactly this URL. */
  webhookUrl: () => string;
  /** Send webhooks (default true). Off = a Verify Service without a configured webhook: the app must poll. */
  webhooks?: boolean;
  /** Delay before a webhook is sent. Default 50 ms. */
  webhookDelayMs?: number;
  /** Retries of a webhook answered non-2xx or failing on the network. Default 5. */
  webhookRetries?: number;
  /** First retry delay, doubled on every retry. Default 200 ms. */
  webhookRetryBaseMs?: number;
  logger?: { log(msg: string): void; warn(msg: string): void };
}

type ChallengeStatus = 'pending' | 'approved' | 'denied' | 'expired';

interface Factor {
  sid: string;
  entitySid: string;
  identity: string;
  friendlyName: string;
  status: 'unverified' | 'verified';
  publicKey: KeyObject;
  config: Record<string, string>;
  dateCreated: string;
  dateUpdated: string;
}

interface Notification {
  sid: string;
  ttl: number;
  dateCreated: string;
}

interface Challenge {
  sid: string;
  entitySid: string;
  identity: string;
  factorSid: string;
  status: 'pending' | 'approved' | 'denied';
  respondedReason?: string;
  details: { message: string; fields: { label: string; value: string }[]; date: string };
  hiddenDetails?: Record<string, string>;
  expirationDate: string;
  dateCreated: string;
  dateUpdated: string;
  dateResponded?: string;
  notifications: Notification[];
}

interface Entity {
  sid: string;
  identity: string;
  dateCreated: string;
  factors: Map<string, Factor>;
  challenges: Map<string, Challenge>;
}

/** A snapshot of one emulated challenge, for tests and the device page (no hidden details). */
export interface EmulatedChallenge {
  sid: string;
  identity: string;
  factorSid: string;
  status: ChallengeStatus;
  message: string;
  fields: { label: string; value: string }[];
  expirationDate: string;
  dateCreated: string;
  /** Push notifications "sent" for it: the first on creation, one per Notifications resource call. */
  sends: number;
  notifications: { sid: string; ttl: number; dateCreated: string }[];
}

export interface EmulatedFactor {
  sid: string;
  identity: string;
  friendlyName: string;
  status: 'unverified' | 'verified';
  dateCreated: string;
}

/** One webhook the emulator POSTed (params and signature included, so a test can replay it). */
export interface WebhookDelivery {
  url: string;
  params: Record<string, string>;
  signature: string;
  httpStatus?: number;
  error?: string;
}

type Caller = { kind: 'account' } | { kind: 'enrollment'; identity: string } | { kind: 'device'; factor: Factor };

const MAX_SENDS = 5;
const MAX_FACTORS = 20;
const MAX_KEPT_CHALLENGES = 1000;
const DEVICE_TOKEN_MAX_AGE_S = 300;
const IDENTITY = /^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/;

const sid = (prefix: string) => prefix + randomBytes(16).toString('hex');
const first = (v: unknown): string | undefined =>
  Array.isArray(v) ? (typeof v[0] === 'string' ? v[0] : undefined) : typeof v === 'string' ? v : undefined;
const all = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [];
const b64url = (v: Buffer | string) => Buffer.from(v).toString('base64url');

/**
 * Offline emulator of the Twilio Verify v2 Push API (Twilio Verify Push): access tokens, entities, new factors, factor
 * verification, challenges with details and expiry, notifications, webhooks. The real `twilio` SDK reaches it through
 * a custom httpClient that rewrites https://verify.twilio.com. Same paths, form parameters, JSON resources and Twilio
 * error bodies (`{code, message, more_info, status}`); webhooks are form-encoded and signed with X-Twilio-Signature.
 *
 * Devices (the page at `/device/:identity`, or a test) authenticate as the Verify Push client SDK does: an enrollment
 * access token to create the factor, then JWTs signed with the factor's ES256 key (Basic `token:<jwt>`).
 */
export class TwilioVerifyEmulator {
  private readonly entities = new Map<string, Entity>();
  private readonly challengeIndex = new Map<string, Challenge>();
  private readonly factorIndex = new Map<string, Factor>();
  private readonly webhooks = new WebhookSender({
    name: 'twilio sandbox',
    timing: () => ({
      delayMs: this.opts.webhookDelayMs,
      retries: this.opts.webhookRetries,
      retryBaseMs: this.opts.webhookRetryBaseMs,
    }),
    logger: { warn: (msg) => this.opts.logger?.warn(msg) },
  });
  private readonly failures: { route: 'challenges'; status: number; retryAfter?: number; left: number }[] = [];
  /** Every webhook POSTed, oldest first (bounded to the last 500). */
  readonly deliveries: WebhookDelivery[] = [];

  constructor(private readonly opts: TwilioVerifyEmulatorOptions) {}

  /** Webhooks on or off at run time (the polling test turns them off). */
  setWebhooks(enabled: boolean): void {
    this.opts.webhooks = enabled;
  }

  /** The next `times` challenge creations answer `status` (e.g. 503 with Retry-After) — the retry path. */
  failNextChallenges(times: number, status = 503, retryAfter?: number): void {
    this.failures.push({ route: 'challenges', status, retryAfter, left: times });
  }

  challenges(filter: { identity?: string; status?: ChallengeStatus } = {}): EmulatedChallenge[] {
    return [...this.challengeIndex.values()]
      .filter((c) => !filter.identity || c.identity === filter.identity)
      .map((c) => this.snapshot(c))
      .filter((c) => !filter.status || c.status === filter.status);
  }

  challenge(challengeSid: string): EmulatedChallenge | undefined {
    const c = this.challengeIndex.get(challengeSid);
    return c && this.snapshot(c);
  }

  factors(identity: string): EmulatedFactor[] {
    return [...(this.entities.get(identity)?.factors.values() ?? [])].map((f) => ({
      sid: f.sid,
      identity: f.identity,
      friendlyName: f.friendlyName,
      status: f.status,
      dateCreated: f.dateCreated,
    }));
  }

  /**
   * Test hook standing in for the device: registers a factor with this public key (SPKI, base64) and verifies it,
   * sending factor.created then factor.verified — what the device page does through the API.
   */
  enrollDevice(identity: string, publicKeySpkiBase64: string, friendlyName = 'sandbox device'): EmulatedFactor {
    const factor = this.createFactor(identity, {
      FriendlyName: friendlyName,
      FactorType: 'push',
      'Binding.Alg': 'ES256',
      'Binding.PublicKey': publicKeySpkiBase64,
      'Config.NotificationPlatform': 'none',
    });
    this.verifyFactor(factor);
    return this.factors(identity).find((f) => f.sid === factor.sid)!;
  }

  /** Test hook standing in for the device: approves or denies a pending challenge (sends the webhook). */
  answer(challengeSid: string, status: 'approved' | 'denied'): EmulatedChallenge {
    const c = this.challengeIndex.get(challengeSid);
    if (!c) throw notFound(`/Challenges/${challengeSid}`);
    this.respond(c, status);
    return this.snapshot(c);
  }

  /** The Verify v2 routes, the device page and the sandbox's JSON helpers; mount at `/sandbox/twilio`. */
  router(): Router {
    const r = express.Router();
    r.use(express.urlencoded({ extended: false, limit: '64kb' }), express.json({ limit: '64kb' }));

    r.get('/device/:identity', (req, res) => {
      const identity = String(req.params.identity);
      res
        .type('html')
        .set('Cache-Control', 'no-store')
        .set('Content-Security-Policy', "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
        .send(renderDevicePage(identity));
    });

    // JSON helpers for tests and for people trying the sandbox (not part of Twilio's API).
    r.get('/challenges', (req, res) => {
      const status = first(req.query.status) as ChallengeStatus | undefined;
      res.set('Cache-Control', 'no-store').json(this.challenges({ identity: first(req.query.identity), status }));
    });
    r.get('/challenges/:sid', (req, res) => {
      const c = this.challenge(String(req.params.sid));
      if (!c) return sendTwilioError(res, notFound(`/challenges/${String(req.params.sid)}`));
      res.set('Cache-Control', 'no-store').json(c);
    });
    r.post('/challenges/:sid/approve', (req, res) =>
      replyAsTwilio(res, () => ({ status: 200, body: this.answer(String(req.params.sid), 'approved') })),
    );
    r.post('/challenges/:sid/deny', (req, res) =>
      replyAsTwilio(res, () => ({ status: 200, body: this.answer(String(req.params.sid), 'denied') })),
    );
    r.get('/factors', (req, res) =>
      res.set('Cache-Control', 'no-store').json(this.factors(first(req.query.identity) ?? '')),
    );
    r.get('/webhooks', (_req, res) => res.set('Cache-Control', 'no-store').json(this.deliveries));
    r.post('/settings', (req, res) => {
      const webhooks = (req.body as { webhooks?: unknown } | undefined)?.webhooks;
      if (typeof webhooks === 'boolean') this.setWebhooks(webhooks);
      res.json({ webhooks: this.opts.webhooks !== false });
    });

    // Twilio Verify v2.
    const svc = '/v2/Services/:serviceSid';
    r.use('/v2', (req, res, next) => {
      const caller = this.authenticate(req);
      if (!caller) {
        return sendTwilioError(res, new TwilioError(401, 20003, 'Authenticate'));
      }
      res.locals.caller = caller;
      next();
    });
    r.use(svc, (req, res, next) => {
      if (req.params.serviceSid !== this.opts.serviceSid) {
        return sendTwilioError(res, notFound(`/Services/${req.params.serviceSid}`));
      }
      next();
    });
    const caller = (res: Response) => res.locals.caller as Caller;
    const ident = (req: Request) => String(req.params.identity);

    r.post(`${svc}/AccessTokens`, (req, res) =>
      replyAsTwilio(res, () => {
        this.requireAccount(caller(res));
        return { status: 201, body: this.createAccessToken(req.body as Record<string, unknown>) };
      }),
    );
    r.post(`${svc}/Entities/:identity/Factors`, (req, res) =>
      replyAsTwilio(res, () => {
        const who = caller(res);
        if (who.kind === 'device' || (who.kind === 'enrollment' && who.identity !== ident(req))) {
          throw new TwilioError(401, 20003, 'Authenticate');
        }
        const factor = this.createFactor(ident(req), req.body as Record<string, unknown>);
        return { status: 201, body: this.factorJson(factor) };
      }),
    );
    r.get(`${svc}/Entities/:identity/Factors`, (req, res) =>
      replyAsTwilio(res, () => {
        this.requireAccount(caller(res));
        const entity = this.entity(ident(req));
        const factors = [...entity.factors.values()].map((f) => this.factorJson(f));
        return { status: 200, body: this.page('factors', `Entities/${entity.identity}/Factors`, factors) };
      }),
    );
    r.get(`${svc}/Entities/:identity/Factors/:sid`, (req, res) =>
      replyAsTwilio(res, () => {
        const factor = this.factorFor(caller(res), ident(req), String(req.params.sid));
        return { status: 200, body: this.factorJson(factor) };
      }),
    );
    r.post(`${svc}/Entities/:identity/Factors/:sid`, (req, res) =>
      replyAsTwilio(res, () => {
        const who = caller(res);
        const factor = this.factorFor(who, ident(req), String(req.params.sid));
        const friendlyName = first((req.body as Record<string, unknown>).FriendlyName);
        if (friendlyName) factor.friendlyName = friendlyName.slice(0, 64);
        // Only the device holding the factor's key can verify it (its signed token proves possession).
        if (who.kind === 'device' && factor.status === 'unverified') this.verifyFactor(factor);
        factor.dateUpdated = new Date().toISOString();
        return { status: 200, body: this.factorJson(factor) };
      }),
    );
    r.delete(`${svc}/Entities/:identity/Factors/:sid`, (req, res) =>
      replyAsTwilio(res, () => {
        const factor = this.factorFor(caller(res), ident(req), String(req.params.sid));
        this.entity(factor.identity).factors.delete(factor.sid);
        this.factorIndex.delete(factor.sid);
        this.webhook(factor.identity, 'factor.deleted', this.factorParams(factor));
        return { status: 204 };
      }),
    );
    r.post(`${svc}/Entities/:identity/Challenges`, (req, res) =>
      replyAsTwilio(res, () => {
        this.requireAccount(caller(res));
        const challenge = this.createChallenge(ident(req), req.body as Record<string, unknown>);
        return { status: 201, body: this.challengeJson(challenge) };
      }),
    );
    r.get(`${svc}/Entities/:identity/Challenges`, (req, res) =>
      replyAsTwilio(res, () => {
        const who = caller(res);
        if (who.kind === 'enrollment') throw new TwilioError(401, 20003, 'Authenticate');
        const entity = this.entity(ident(req));
        if (who.kind === 'device' && who.factor.identity !== entity.identity) {
          throw new TwilioError(401, 20003, 'Authenticate');
        }
        const factorSid = first(req.query.FactorSid);
        const status = first(req.query.Status);
        const list = [...entity.challenges.values()]
          .filter((c) => !factorSid || c.factorSid === factorSid)
          .filter((c) => !status || this.statusOf(c) === status)
          .sort((a, b) => b.dateCreated.localeCompare(a.dateCreated))
          .map((c) => this.challengeJson(c));
        return { status: 200, body: this.page('challenges', `Entities/${entity.identity}/Challenges`, list) };
      }),
    );
    r.get(`${svc}/Entities/:identity/Challenges/:sid`, (req, res) =>
      replyAsTwilio(res, () => ({
        status: 200,
        body: this.challengeJson(this.challengeFor(caller(res), ident(req), String(req.params.sid))),
      })),
    );
    r.post(`${svc}/Entities/:identity/Challenges/:sid`, (req, res) =>
      replyAsTwilio(res, () => {
        const who = caller(res);
        const challenge = this.challengeFor(who, ident(req), String(req.params.sid));
        if (who.kind !== 'device') throw invalid('Push challenges are answered by the device that holds the factor');
        const status = first((req.body as Record<string, unknown>).Status);
        if (status !== 'approved' && status !== 'denied') throw invalid('Status must be approved or denied');
        this.respond(challenge, status);
        return { status: 200, body: this.challengeJson(challenge) };
      }),
    );
    r.post(`${svc}/Entities/:identity/Challenges/:sid/Notifications`, (req, res) =>
      replyAsTwilio(res, () => {
        this.requireAccount(caller(res));
        const challenge = this.challengeFor(caller(res), ident(req), String(req.params.sid));
        const notification = this.notify(challenge, first((req.body as Record<string, unknown>).Ttl));
        return { status: 201, body: notification };
      }),
    );
    r.use('/v2', (req, res) => sendTwilioError(res, notFound(req.path)));
    r.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
      const type = (err as { type?: string } | null)?.type;
      if (type !== 'entity.parse.failed' && type !== 'entity.too.large') return next(err);
      sendTwilioError(res, invalid('The request body could not be parsed'));
    });
    return r;
  }

  /** Stops pending webhook deliveries. */
  close(): void {
    this.webhooks.close();
  }

  // ── authentication ──

  private authenticate(req: Request): Caller | undefined {
    const match = /^Basic\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    if (!match) return undefined;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const user = decoded.slice(0, colon);
    const pass = decoded.slice(colon + 1);
    if (user === this.opts.accountSid && safeEqual(pass, this.opts.authToken)) return { kind: 'account' };
    if (user !== 'token') return undefined;
    const enrollment = this.verifyAccessToken(pass);
    if (enrollment) return { kind: 'enrollment', identity: enrollment };
    const factor = this.verifyDeviceToken(pass);
    return factor ? { kind: 'device', factor } : undefined;
  }

  private requireAccount(caller: Caller): void {
    if (caller.kind !== 'account') throw new TwilioError(401, 20003, 'Authenticate');
  }

  /** Enrollment access token: HS256 over the auth token, bound to one identity and the push factor type. */
  private signAccessToken(identity: string, ttl: number): string {
    const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', cty: 'twilio-verify-push;v=1' }));
    const now = Math.floor(Date.now() / 1000);
    const claims = b64url(
      JSON.stringify({
        iss: this.opts.serviceSid,
        sub: this.opts.accountSid,
        identity,
        factor_type: 'push',
        iat: now,
        exp: now + ttl,
        jti: randomUUID(),
      }),
    );
    const sig = createHmac('sha256', this.opts.authToken).update(`${header}.${claims}`).digest('base64url');
    return `${header}.${claims}.${sig}`;
  }

  private verifyAccessToken(token: string): string | undefined {
    const [header, claims, sig, ...rest] = token.split('.');
    if (!header || !claims || !sig || rest.length) return undefined;
    try {
      if (JSON.parse(Buffer.from(header, 'base64url').toString()).alg !== 'HS256') return undefined;
      const expected = createHmac('sha256', this.opts.authToken).update(`${header}.${claims}`).digest('base64url');
      if (!safeEqual(sig, expected)) return undefined;
      const payload = JSON.parse(Buffer.from(claims, 'base64url').toString()) as { identity?: string; exp?: number };
      if (typeof payload.exp !== 'number' || payload.exp < Date.now() / 1000) return undefined;
      return payload.identity;
    } catch {
      return undefined;
    }
  }

  /** Device token: ES256 JWT (`kid` = factor SID) signed with the key bound to that factor, at most 5 minutes old. */
  private verifyDeviceToken(token: string): Factor | undefined {
    const [header, claims, sig, ...rest] = token.split('.');
    if (!header || !claims || !sig || rest.length) return undefined;
    try {
      const h = JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg?: string; kid?: string };
      if (h.alg !== 'ES256' || !h.kid) return undefined;
      const factor = this.factorIndex.get(h.kid);
      if (!factor) return undefined;
      const ok = verify(
        'sha256',
        Buffer.from(`${header}.${claims}`),
        { key: factor.publicKey, dsaEncoding: 'ieee-p1363' },
        Buffer.from(sig, 'base64url'),
      );
      const payload = JSON.parse(Buffer.from(claims, 'base64url').toString()) as { sub?: string; iat?: number };
      const now = Date.now() / 1000;
      if (!ok || payload.sub !== factor.sid || typeof payload.iat !== 'number') return undefined;
      if (payload.iat > now + 60 || payload.iat < now - DEVICE_TOKEN_MAX_AGE_S) return undefined;
      return factor;
    } catch {
      return undefined;
    }
  }

  // ── resources ──

  private createAccessToken(body: Record<string, unknown>) {
    const identity = first(body.Identity);
    if (!identity) throw invalid('Missing required parameter Identity in the post body');
    this.checkIdentity(identity);
    if (first(body.FactorType) !== 'push') throw invalid('FactorType must be push');
    const ttlRaw = first(body.Ttl);
    const ttl = ttlRaw === undefined ? 60 : Number(ttlRaw);
    if (!Number.isInteger(ttl) || ttl < 60 || ttl > 300) throw invalid('Ttl must be between 60 and 300 seconds');
    const tokenSid = sid('YK');
    return {
      sid: tokenSid,
      account_sid: this.opts.accountSid,
      service_sid: this.opts.serviceSid,
      entity_identity: identity,
      factor_type: 'push',
      factor_friendly_name: first(body.FactorFriendlyName) ?? null,
      token: this.signAccessToken(identity, ttl),
      url: `https://verify.twilio.com/v2/Services/${this.opts.serviceSid}/AccessTokens/${tokenSid}`,
      ttl,
      date_created: new Date().toISOString(),
    };
  }

  private checkIdentity(identity: string): void {
    if (identity.length < 8 || identity.length > 64 || !IDENTITY.test(identity)) {
      throw invalid('Identity must be 8-64 dash-separated alphanumeric characters');
    }
  }

  private entity(identity: string): Entity {
    const entity = this.entities.get(identity);
    if (!entity) throw notFound(`/Services/${this.opts.serviceSid}/Entities/${identity}`);
    return entity;
  }

  private createFactor(identity: string, body: Record<string, unknown>): Factor {
    this.checkIdentity(identity);
    const friendlyName = first(body.FriendlyName);
    if (!friendlyName) throw invalid('Missing required parameter FriendlyName in the post body');
    if (first(body.FactorType) !== 'push') throw invalid('FactorType must be push');
    if ((first(body['Binding.Alg']) ?? 'ES256') !== 'ES256') throw invalid('Binding.Alg must be ES256');
    const publicKeyB64 = first(body['Binding.PublicKey']);
    if (!publicKeyB64) throw invalid('Missing required parameter Binding.PublicKey in the post body');
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: Buffer.from(publicKeyB64, 'base64'), format: 'der', type: 'spki' });
      if (publicKey.asymmetricKeyType !== 'ec') throw new Error('not EC');
    } catch {
      throw invalid('Binding.PublicKey must be a base64 SPKI EC P-256 public key');
    }
    const platform = first(body['Config.NotificationPlatform']) ?? 'none';
    if (!['apn', 'fcm', 'none'].includes(platform))
      throw invalid('Config.NotificationPlatform must be apn, fcm or none');
    let entity = this.entities.get(identity);
    if (!entity) {
      // Creating the first factor creates the entity too (Twilio Verify Push: no separate Create Entity call).
      entity = {
        sid: sid('YE'),
        identity,
        dateCreated: new Date().toISOString(),
        factors: new Map(),
        challenges: new Map(),
      };
      this.entities.set(identity, entity);
    }
    if (entity.factors.size >= MAX_FACTORS) throw invalid('Reached max limit of 20 push Factors for this Entity');
    const now = new Date().toISOString();
    const factor: Factor = {
      sid: sid('YF'),
      entitySid: entity.sid,
      identity,
      friendlyName: friendlyName.slice(0, 64),
      status: 'unverified',
      publicKey,
      config: {
        sdk_version: first(body['Config.SdkVersion']) ?? 'sandbox',
        app_id: first(body['Config.AppId']) ?? 'sandbox',
        notification_platform: platform,
        ...(first(body['Config.NotificationToken'])
          ? { notification_token: first(body['Config.NotificationToken'])! }
          : {}),
      },
      dateCreated: now,
      dateUpdated: now,
    };
    entity.factors.set(factor.sid, factor);
    this.factorIndex.set(factor.sid, factor);
    this.log(`factor ${factor.sid} created`);
    this.webhook(identity, 'factor.created', this.factorParams(factor));
    return factor;
  }

  private verifyFactor(factor: Factor): void {
    factor.status = 'verified';
    factor.dateUpdated = new Date().toISOString();
    this.log(`factor ${factor.sid} verified`);
    this.webhook(factor.identity, 'factor.verified', this.factorParams(factor));
  }

  private factorFor(caller: Caller, identity: string, factorSid: string): Factor {
    const factor = this.entity(identity).factors.get(factorSid);
    if (!factor) throw notFound(`/Entities/${identity}/Factors/${factorSid}`);
    if (caller.kind === 'enrollment' || (caller.kind === 'device' && caller.factor.sid !== factor.sid)) {
      throw new TwilioError(401, 20003, 'Authenticate');
    }
    return factor;
  }

  private createChallenge(identity: string, body: Record<string, unknown>): Challenge {
    const failure = this.failures.find((f) => f.route === 'challenges' && f.left > 0);
    if (failure) {
      failure.left--;
      const headers: Record<string, string> = failure.retryAfter ? { 'Retry-After': String(failure.retryAfter) } : {};
      throw new TwilioError(failure.status, failure.status === 429 ? 20429 : 20500, 'Service unavailable', headers);
    }
    const entity = this.entity(identity);
    const factorSid = first(body.FactorSid);
    if (!factorSid) throw invalid('Missing required parameter FactorSid in the post body');
    const factor = entity.factors.get(factorSid);
    if (!factor) throw notFound(`/Entities/${identity}/Factors/${factorSid}`);
    if (factor.status !== 'verified') throw invalid('The Factor is not verified');
    const message = first(body['Details.Message']);
    if (!message) throw invalid('Details.Message is required for push Factors');
    if (message.length > 256) throw invalid('Details.Message must be at most 256 characters');
    const rawFields = all(body['Details.Fields']);
    if (rawFields.length > 20) throw invalid('Details.Fields must have at most 20 fields');
    const fields = rawFields.map((raw) => {
      let f: unknown;
      try {
        f = JSON.parse(raw);
      } catch {
        throw invalid('Details.Fields must be JSON objects with label and value');
      }
      const { label, value } = (f ?? {}) as { label?: unknown; value?: unknown };
      if (typeof label !== 'string' || typeof value !== 'string' || !label || label.length > 36 || value.length > 128) {
        throw invalid('Details.Fields: label must be 1-36 characters and value at most 128');
      }
      return { label, value };
    });
    let hiddenDetails: Record<string, string> | undefined;
    const hiddenRaw = first(body.HiddenDetails);
    if (hiddenRaw !== undefined) {
      try {
        hiddenDetails = JSON.parse(hiddenRaw) as Record<string, string>;
      } catch {
        throw invalid('HiddenDetails must be a JSON object');
      }
      const ok =
        hiddenRaw.length <= 1024 &&
        hiddenDetails !== null &&
        typeof hiddenDetails === 'object' &&
        !Array.isArray(hiddenDetails) &&
        Object.values(hiddenDetails).every((v) => typeof v === 'string');
      if (!ok) throw invalid('HiddenDetails must be a JSON object of strings, at most 1024 characters');
    }
    const now = Date.now();
    const expRaw = first(body.ExpirationDate);
    const expiration = expRaw ? Date.parse(expRaw) : now + 5 * 60_000;
    if (!Number.isFinite(expiration) || expiration <= now || expiration > now + 60 * 60_000 + 1000) {
      throw invalid('ExpirationDate must be in the future and at most 60 minutes after creation');
    }
    const created = new Date(now).toISOString();
    const challenge: Challenge = {
      sid: sid('YC'),
      entitySid: entity.sid,
      identity,
      factorSid,
      status: 'pending',
      details: { message, fields, date: created },
      hiddenDetails,
      expirationDate: new Date(expiration).toISOString(),
      dateCreated: created,
      dateUpdated: created,
      // Creating the challenge sends its first push notification.
      notifications: [
        { sid: sid('NT'), ttl: Math.min(300, Math.ceil((expiration - now) / 1000)), dateCreated: created },
      ],
    };
    entity.challenges.set(challenge.sid, challenge);
    this.challengeIndex.set(challenge.sid, challenge);
    this.prune();
    this.log(`challenge ${challenge.sid} created`);
    return challenge;
  }

  private challengeFor(caller: Caller, identity: string, challengeSid: string): Challenge {
    const challenge = this.entity(identity).challenges.get(challengeSid);
    if (!challenge) throw notFound(`/Entities/${identity}/Challenges/${challengeSid}`);
    if (caller.kind === 'enrollment' || (caller.kind === 'device' && caller.factor.sid !== challenge.factorSid)) {
      throw new TwilioError(401, 20003, 'Authenticate');
    }
    return challenge;
  }

  private statusOf(c: Challenge): ChallengeStatus {
    return c.status === 'pending' && Date.parse(c.expirationDate) <= Date.now() ? 'expired' : c.status;
  }

  private respond(challenge: Challenge, status: 'approved' | 'denied'): void {
    const current = this.statusOf(challenge);
    if (current !== 'pending') throw invalid(`The Challenge is ${current}, not pending`);
    const now = new Date().toISOString();
    challenge.status = status;
    challenge.dateResponded = now;
    challenge.dateUpdated = now;
    challenge.respondedReason = 'none';
    this.log(`challenge ${challenge.sid} ${status}`);
    this.webhook(challenge.identity, `challenge.${status}`, {
      factor_sid: challenge.factorSid,
      factor_type: 'push',
      challenge_sid: challenge.sid,
      challenge_details: JSON.stringify(challenge.details),
      ...(challenge.hiddenDetails ? { hidden_details: JSON.stringify(challenge.hiddenDetails) } : {}),
      status,
    });
  }

  private notify(challenge: Challenge, ttlRaw: string | undefined) {
    const ttl = ttlRaw === undefined ? 300 : Number(ttlRaw);
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > 300) throw invalid('Ttl must be between 0 and 300 seconds');
    const status = this.statusOf(challenge);
    if (status !== 'pending') throw invalid(`The Challenge is ${status}, not pending`);
    if (challenge.notifications.length >= MAX_SENDS) throw new TwilioError(429, 60203, 'Max send attempts reached');
    const notification = { sid: sid('NT'), ttl, dateCreated: new Date().toISOString() };
    challenge.notifications.push(notification);
    this.log(`challenge ${challenge.sid}: notification ${notification.sid} sent`);
    return {
      sid: notification.sid,
      account_sid: this.opts.accountSid,
      service_sid: this.opts.serviceSid,
      entity_sid: challenge.entitySid,
      identity: challenge.identity,
      challenge_sid: challenge.sid,
      priority: 'high',
      ttl,
      date_created: notification.dateCreated,
    };
  }

  // ── JSON shapes ──

  private base(identity: string): string {
    return `https://verify.twilio.com/v2/Services/${this.opts.serviceSid}/Entities/${identity}`;
  }

  private factorJson(f: Factor) {
    return {
      sid: f.sid,
      account_sid: this.opts.accountSid,
      service_sid: this.opts.serviceSid,
      entity_sid: f.entitySid,
      identity: f.identity,
      date_created: f.dateCreated,
      date_updated: f.dateUpdated,
      friendly_name: f.friendlyName,
      status: f.status,
      factor_type: 'push',
      config: f.config,
      metadata: null,
      url: `${this.base(f.identity)}/Factors/${f.sid}`,
    };
  }

  private challengeJson(c: Challenge) {
    return {
      sid: c.sid,
      account_sid: this.opts.accountSid,
      service_sid: this.opts.serviceSid,
      entity_sid: c.entitySid,
      identity: c.identity,
      factor_sid: c.factorSid,
      date_created: c.dateCreated,
      date_updated: c.dateUpdated,
      date_responded: c.dateResponded ?? null,
      expiration_date: c.expirationDate,
      status: this.statusOf(c),
      responded_reason: c.respondedReason ?? 'none',
      details: c.details,
      hidden_details: c.hiddenDetails ?? null,
      metadata: null,
      factor_type: 'push',
      url: `${this.base(c.identity)}/Challenges/${c.sid}`,
      links: { notifications: `${this.base(c.identity)}/Challenges/${c.sid}/Notifications` },
    };
  }

  private page(key: string, path: string, items: unknown[]) {
    const url = `https://verify.twilio.com/v2/Services/${this.opts.serviceSid}/${path}?PageSize=${Math.max(50, items.length)}&Page=0`;
    return {
      [key]: items,
      meta: {
        page: 0,
        page_size: Math.max(50, items.length),
        first_page_url: url,
        previous_page_url: null,
        url,
        next_page_url: null,
        key,
      },
    };
  }

  private snapshot(c: Challenge): EmulatedChallenge {
    return {
      sid: c.sid,
      identity: c.identity,
      factorSid: c.factorSid,
      status: this.statusOf(c),
      message: c.details.message,
      fields: c.details.fields.map((f) => ({ ...f })),
      expirationDate: c.expirationDate,
      dateCreated: c.dateCreated,
      sends: c.notifications.length,
      notifications: c.notifications.slice(1).map((n) => ({ ...n })),
    };
  }

  // ── webhooks ──

  private factorParams(f: Factor): Record<string, string> {
    return { factor_sid: f.sid, factor_type: 'push', factor_friendly_name: f.friendlyName, status: f.status };
  }

  /** Queues a signed, form-encoded webhook; one entity's webhooks are delivered in order. */
  private webhook(identity: string, type: string, extra: Record<string, string>): void {
    if (this.opts.webhooks === false) return;
    if (!this.entities.has(identity)) return;
    const params: Record<string, string> = {
      uuid: randomUUID(),
      type,
      account_sid: this.opts.accountSid,
      service_sid: this.opts.serviceSid,
      entity_identity: identity,
      ...extra,
      date_created: new Date().toISOString(),
    };
    let delivery: WebhookDelivery;
    this.webhooks.send({
      label: `${type} webhook ${params.uuid}`,
      queue: identity,
      request: () => {
        // Signed over the URL of this attempt; every attempt is kept, so a test can replay it.
        const url = this.opts.webhookUrl();
        delivery = { url, params, signature: signTwilioWebhook(this.opts.authToken, url, params) };
        this.deliveries.push(delivery);
        keepLast(this.deliveries, 500);
        return {
          url,
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'x-twilio-signature': delivery.signature,
            'i-twilio-idempotency-token': params.uuid,
          },
          body: new URLSearchParams(params).toString(),
        };
      },
      onAttempt: ({ httpStatus, failure }) => {
        if (httpStatus !== undefined) delivery.httpStatus = httpStatus;
        else delivery.error = failure;
      },
    });
  }

  // ── plumbing ──

  /** Forgets the oldest answered or expired challenges beyond the last 1000. */
  private prune(): void {
    const forget = (challengeSid: string, c: Challenge) =>
      this.entities.get(c.identity)?.challenges.delete(challengeSid);
    pruneOldest(this.challengeIndex, MAX_KEPT_CHALLENGES, (c) => this.statusOf(c) === 'pending', forget);
  }

  private log(msg: string): void {
    this.opts.logger?.log(`twilio sandbox: ${msg}`);
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
