import { createHash, createHmac, createPublicKey, type KeyObject, randomInt, randomUUID, verify } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { type Outbox } from './outbox';
import { pruneOldest } from './retention';
import { type Webhook, WebhookSender } from './webhook-sender';

export type VonageChannel = 'silent_auth' | 'sms' | 'voice' | 'whatsapp' | 'email';

export type VonageRequestStatus =
  'active' | 'completed' | 'failed' | 'expired' | 'cancelled' | 'user_rejected' | 'blocked';

export interface VonageEmulatorOptions {
  applicationId: string;
  /** Verifies the RS256 bearer JWT the SDK sends; 401 when missing, invalid or for another application. */
  publicKeyPem: string;
  /** HS256 secret that signs the callbacks (the application's signature secret). */
  signatureSecret: string;
  /** Where callbacks are POSTed (the app's `/webhooks/vonage`). */
  callbackUrl: () => string;
  /** The emulator's own base URL as seen from outside, e.g. `http://127.0.0.1:3000/sandbox/vonage` (for check_url). */
  publicBaseUrl: () => string;
  outbox: Outbox;
  /** Delay before a callback is sent. Default 50 ms. */
  callbackDelayMs?: number;
  /** Retries of a callback answered non-2xx or failing on the network. Default 5. */
  callbackRetries?: number;
  /** First retry delay, doubled on every retry. Default 200 ms. */
  callbackRetryBaseMs?: number;
  /** Wrong codes that terminate a request (the last one answers 410). Default 5. */
  maxWrongCodes?: number;
  /** Multiplies every `channel_timeout` (default 1); tests use e.g. 0.001 to see steps auto-advance and expire. */
  stepTimeoutScale?: number;
  logger?: { log(msg: string): void; warn(msg: string): void };
  /** Called when a callback is acknowledged 2xx, with the latency of that acknowledged POST (benchmarks). */
  onCallbackDelivered?(ms: number, status: string): void;
  /** Called after every callback POST, answered or not (chaos runs count 503s, retries and drops). */
  onCallbackAttempt?(attempt: CallbackAttempt): void;
  /** Sends every callback this many times (default 1): real providers deliver duplicates. */
  callbackCopies?: number;
  /**
   * When > 0, every callback (and copy) is delivered on its own after a random delay of up to this many ms, so they
   * arrive shuffled across a request; default 0 = one request's callbacks in order.
   */
  callbackShuffleMs?: number;
  /** A provider outage: until `until` (epoch ms) every emulator route answers `status` (default 503) with Retry-After. */
  outage?: { until: number; status?: number; retryAfterSeconds?: number };
  /** Delay before each API answer leaves, after the request was processed (the provider acted; the answer is late). */
  replyDelayMs?: number;
}

/** The emulator options a chaos run may switch while the emulator runs (see {@link VonageEmulator.configure}). */
export type VonageEmulatorChaos = Pick<
  VonageEmulatorOptions,
  | 'callbackCopies'
  | 'callbackShuffleMs'
  | 'callbackDelayMs'
  | 'outage'
  | 'replyDelayMs'
  | 'callbackRetries'
  | 'callbackRetryBaseMs'
  | 'onCallbackDelivered'
  | 'onCallbackAttempt'
>;

/** One callback POST as the emulator saw it. */
export interface CallbackAttempt {
  requestId: string;
  /** The callback's `status` (action_pending, completed, …). */
  status: string;
  /** 0 for the first try of a delivery. */
  attempt: number;
  ms: number;
  /** The HTTP status answered, absent on a network error. */
  httpStatus?: number;
  /** `delivered` (2xx), `retrying`, or `dropped` after the last retry. */
  outcome: 'delivered' | 'retrying' | 'dropped';
}

/** A read-only snapshot of one emulated request (codes are left out: read them from the outbox). */
export interface EmulatedVerification {
  requestId: string;
  brand: string;
  workflow: { channel: VonageChannel; to: string }[];
  stepIndex: number;
  channel: VonageChannel;
  channelTimeout: number;
  codeLength: number;
  clientRef?: string;
  locale?: string;
  status: VonageRequestStatus;
  wrongCodes: number;
  checkUrl?: string;
  createdAt: string;
}

interface Step {
  channel: VonageChannel;
  to: string;
}

interface Verification {
  id: string;
  brand: string;
  steps: Step[];
  stepIndex: number;
  channelTimeout: number;
  codeLength: number;
  clientRef?: string;
  locale?: string;
  status: VonageRequestStatus;
  tooManyCodes: boolean;
  wrongCodes: number;
  checkUrl?: string;
  checkId?: string;
  /** Code of the current step: the OTP, or the silent auth code once the check URL chain was followed. */
  code?: string;
  silentAuthChecked: boolean;
  stepTimer?: NodeJS.Timeout;
  createdAt: string;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  redirect?: string;
}

interface InvalidParameter {
  name: string;
  reason: string;
}

class ProblemError extends Error {
  constructor(readonly reply: Reply) {
    super(String((reply.body as { title?: string } | undefined)?.title ?? reply.status));
  }
}

const CHANNELS: readonly VonageChannel[] = ['silent_auth', 'sms', 'voice', 'whatsapp', 'email'];
const PHONE = /^\+?[1-9]\d{6,14}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const LOCALE = /^[a-z]{2,3}-[a-z]{2,4}$/i;
const CODE = /^[A-Za-z0-9]{4,10}$/;
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const MAX_KEPT_REQUESTS = 1000;

/** Sandbox numbers (digits only) that choose an outcome, see DESIGN.md "The sandbox". */
const SPECIAL = {
  networkNotSupported: '15005550001',
  smsNeverDelivered: '15005550002',
  invalidNumber: '15005550003',
  unavailableTwice: '15005550004',
  userRejects: '15005550005',
  networkBlocked: '15005550006',
  /** Vonage is down for this number: every new request answered 503 (the retry budget runs out, then fallback). */
  unavailable: '15005550007',
} as const;

const digitsOf = (to: string) => to.replace(/\D/g, '');
/** Vonage's 503 problem, with `Retry-After: 1`. */
const unavailable = () => {
  const err = problem(
    503,
    'Service Unavailable',
    'The service is temporarily unavailable. Please retry later.',
    'https://developer.vonage.com/en/api-errors#service-unavailable',
  );
  return new ProblemError({ ...err.reply, headers: { 'Retry-After': '1' } });
};
const destinationKey = (to: string) => (to.includes('@') ? to.trim().toLowerCase() : digitsOf(to));
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIntIn = (v: unknown, min: number, max: number) =>
  Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
const isStringIn = (v: unknown, min: number, max: number) =>
  typeof v === 'string' && v.length >= min && v.length <= max;

function problem(
  status: number,
  title: string,
  detail: string,
  type: string,
  extra: Record<string, unknown> = {},
): ProblemError {
  return new ProblemError({ status, body: { title, detail, instance: randomUUID(), type, ...extra } });
}

const invalidParams = (invalid_parameters: InvalidParameter[]) =>
  problem(
    422,
    'Invalid params',
    'The value of one or more parameters is invalid',
    'https://developer.vonage.com/en/api-errors#invalid-params',
    {
      invalid_parameters,
    },
  );
const notFound = (id: string) =>
  problem(
    404,
    'Not Found',
    `Request '${id}' was not found or it has been verified already.`,
    'https://developer.vonage.com/en/api-errors#not-found',
  );
const conflict = (detail: string, extra?: Record<string, unknown>) =>
  problem(409, 'Conflict', detail, 'https://www.developer.vonage.com/api-errors/verify#conflict', extra);
const unauthorized = () =>
  problem(
    401,
    'Unauthorized',
    'You did not provide correct credentials.',
    'https://developer.vonage.com/en/api-errors#unauthorized',
  );

/** The Verify v2 API reference's "Invalid Code" body (its instance is a dash-less hex id, as there). */
const invalidCode = () =>
  new ProblemError({
    status: 400,
    body: {
      title: 'Invalid Code',
      type: 'https://www.developer.vonage.com/api-errors/verify#invalid-code',
      detail: 'The code you provided does not match the expected value.',
      instance: randomUUID().replace(/-/g, ''),
    },
  });

function randomString(alphabet: string, length: number): string {
  return Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join('');
}

function sendReply(res: Response, reply: Reply): void {
  if (reply.headers) res.set(reply.headers);
  if (reply.redirect) return res.redirect(reply.status, reply.redirect);
  if (reply.body === undefined) {
    res.status(reply.status).end();
    return;
  }
  res.status(reply.status).json(reply.body);
}

/**
 * Offline emulator of the Vonage Verify v2 API, faithful to the provider document: same paths, bodies,
 * statuses, problem bodies and signed (HS256 JWT + payload_hash) callbacks, so the real `@vonage/server-sdk`
 * can be pointed at it with `apiHost`. Special sandbox numbers (+1500555000[1-5]) choose an outcome; codes
 * that would have been sent land in the {@link Outbox}.
 */
export class VonageEmulator {
  private readonly publicKey: KeyObject;
  private readonly verifications = new Map<string, Verification>();
  private readonly checks = new Map<string, string>();
  private readonly unavailableCount = new Map<string, number>();
  private readonly webhooks = new WebhookSender({
    name: 'vonage sandbox',
    timing: () => ({
      delayMs: this.opts.callbackDelayMs,
      retries: this.opts.callbackRetries,
      retryBaseMs: this.opts.callbackRetryBaseMs,
    }),
    logger: { warn: (msg) => this.opts.logger?.warn(msg) },
  });

  /** Read-only view of the emulated requests, for tests. */
  readonly requests = {
    get: (id: string): EmulatedVerification | undefined => {
      const v = this.verifications.get(id);
      return v && this.snapshot(v);
    },
    list: (): EmulatedVerification[] => [...this.verifications.values()].map((v) => this.snapshot(v)),
  };

  constructor(private readonly opts: VonageEmulatorOptions) {
    this.publicKey = createPublicKey(opts.publicKeyPem);
  }

  /** Switches chaos options at run time (outage on/off, duplicated or shuffled callbacks, late answers, observers). */
  configure(patch: Partial<VonageEmulatorChaos>): void {
    Object.assign(this.opts, patch);
  }

  /** The Verify v2 routes; mount at the base the SDK's `apiHost` points to (e.g. `/sandbox/vonage`). */
  router(): Router {
    const r = express.Router();
    r.use(this.outageGate);
    r.get(
      '/v2/verify/:id/silent-auth/redirect',
      this.handle((req) => this.openCheckUrl(String(req.params.id))),
    );
    r.get(
      '/silent-auth/checks/:checkId/redirect',
      this.handle((req) => this.finishCheck(String(req.params.checkId))),
    );
    r.use('/v2', this.authenticate, express.json({ limit: '100kb' }));
    r.post(
      '/v2/verify',
      this.handle((req) => this.create(req.body)),
    );
    r.post(
      '/v2/verify/:id/next_workflow',
      this.handle((req) => this.nextWorkflow(String(req.params.id))),
    );
    r.post(
      '/v2/verify/:id',
      this.handle((req) => this.checkCode(String(req.params.id), req.body)),
    );
    r.delete(
      '/v2/verify/:id',
      this.handle((req) => this.cancel(String(req.params.id))),
    );
    r.use(
      '/v2',
      this.handle(() => {
        throw problem(
          404,
          'Not Found',
          'The requested resource does not exist.',
          'https://developer.vonage.com/en/api-errors#not-found',
        );
      }),
    );
    r.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
      const type = (err as { type?: string } | null)?.type;
      if (type !== 'entity.parse.failed' && type !== 'entity.too.large') return next(err);
      sendReply(res, invalidParams([{ name: 'body', reason: 'The request body is not valid JSON' }]).reply);
    });
    return r;
  }

  /** Stops auto-advance timers and pending callback deliveries. */
  close(): void {
    this.webhooks.close();
    for (const v of this.verifications.values()) clearTimeout(v.stepTimer);
  }

  private handle(fn: (req: Request) => Reply) {
    return (req: Request, res: Response) => {
      let reply: Reply;
      try {
        reply = fn(req);
      } catch (err) {
        if (!(err instanceof ProblemError)) throw err;
        reply = err.reply;
      }
      const delay = this.opts.replyDelayMs ?? 0;
      if (delay > 0) setTimeout(() => sendReply(res, reply), delay).unref();
      else sendReply(res, reply);
    };
  }

  private readonly outageGate = (_req: Request, res: Response, next: NextFunction) => {
    const outage = this.opts.outage;
    if (!outage || Date.now() >= outage.until) return next();
    const err = problem(
      outage.status ?? 503,
      'Service Unavailable',
      'The service is temporarily unavailable. Please retry later.',
      'https://developer.vonage.com/en/api-errors#service-unavailable',
    );
    sendReply(res, { ...err.reply, headers: { 'Retry-After': String(outage.retryAfterSeconds ?? 1) } });
  };

  private readonly authenticate = (req: Request, res: Response, next: NextFunction) => {
    const token = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
    if (!token || !this.verifyBearer(token)) return sendReply(res, unauthorized().reply);
    next();
  };

  private verifyBearer(token: string): boolean {
    const [header, claims, signature, ...rest] = token.split('.');
    if (!header || !claims || !signature || rest.length) return false;
    try {
      const alg = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')).alg;
      const payload = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8'));
      const signed = Buffer.from(`${header}.${claims}`);
      const now = Date.now() / 1000;
      return (
        alg === 'RS256' &&
        verify('RSA-SHA256', signed, this.publicKey, Buffer.from(signature, 'base64url')) &&
        payload.application_id === this.opts.applicationId &&
        (typeof payload.exp !== 'number' || payload.exp > now) &&
        (typeof payload.nbf !== 'number' || payload.nbf <= now + 60)
      );
    } catch {
      return false;
    }
  }

  private create(body: unknown): Reply {
    const input = this.validate(body);
    const invalid = input.steps.findIndex((s) => digitsOf(s.to) === SPECIAL.invalidNumber);
    if (invalid >= 0) throw invalidParams([{ name: `workflow[${invalid}]`, reason: '`to` Phone number is invalid' }]);
    if (input.steps.some((s) => digitsOf(s.to) === SPECIAL.unavailable)) throw unavailable();
    if (input.steps.some((s) => digitsOf(s.to) === SPECIAL.unavailableTwice)) {
      const refusals = this.unavailableCount.get(SPECIAL.unavailableTwice) ?? 0;
      if (refusals < 2) {
        this.unavailableCount.set(SPECIAL.unavailableTwice, refusals + 1);
        throw unavailable();
      }
      this.unavailableCount.delete(SPECIAL.unavailableTwice);
    }
    const destinations = new Set(input.steps.map((s) => destinationKey(s.to)));
    const busy = [...this.verifications.values()].find(
      (v) => v.status === 'active' && v.steps.some((s) => destinations.has(destinationKey(s.to))),
    );
    if (busy) throw conflict('Concurrent verifications to the same number are not allowed', { request_id: busy.id });

    const id = randomUUID();
    const v: Verification = {
      ...input,
      id,
      stepIndex: 0,
      status: 'active',
      tooManyCodes: false,
      wrongCodes: 0,
      silentAuthChecked: false,
      createdAt: new Date().toISOString(),
      checkUrl:
        input.steps[0].channel === 'silent_auth'
          ? `${this.opts.publicBaseUrl()}/v2/verify/${id}/silent-auth/redirect`
          : undefined,
    };
    this.verifications.set(id, v);
    this.prune();
    this.log(`request ${id} created (${v.steps.map((s) => s.channel).join(' -> ')})`);
    this.startStep(v);
    return { status: 200, body: { request_id: id, ...(v.checkUrl ? { check_url: v.checkUrl } : {}) } };
  }

  private validate(body: unknown) {
    if (!isRecord(body)) throw invalidParams([{ name: 'body', reason: 'The request body must be a JSON object' }]);
    const issues: InvalidParameter[] = [];
    const { brand, workflow, channel_timeout, code_length, client_ref, locale } = body;
    if (!isStringIn(brand, 1, 16)) issues.push({ name: 'brand', reason: '`brand` must be 1 to 16 characters' });
    const steps: Step[] = [];
    if (!Array.isArray(workflow) || workflow.length < 1 || workflow.length > 3) {
      issues.push({ name: 'workflow', reason: '`workflow` must contain 1 to 3 steps' });
    } else {
      workflow.forEach((step: unknown, i) => {
        const name = `workflow[${i}]`;
        const channel = isRecord(step) ? step.channel : undefined;
        const to = isRecord(step) ? step.to : undefined;
        if (!CHANNELS.includes(channel as VonageChannel)) {
          issues.push({ name, reason: `\`channel\` must be one of ${CHANNELS.join(', ')}` });
        } else if (channel === 'silent_auth' && i > 0) {
          issues.push({ name, reason: '`silent_auth` can only be the first workflow step' });
        } else if (
          channel === 'email' ? typeof to !== 'string' || !EMAIL.test(to) : typeof to !== 'string' || !PHONE.test(to)
        ) {
          issues.push({
            name,
            reason: channel === 'email' ? '`to` Email address is invalid' : '`to` Phone number is invalid',
          });
        } else {
          steps.push({ channel: channel as VonageChannel, to: to as string });
        }
      });
    }
    if (channel_timeout !== undefined && !isIntIn(channel_timeout, 15, 900)) {
      issues.push({ name: 'channel_timeout', reason: '`channel_timeout` must be an integer between 15 and 900' });
    }
    if (code_length !== undefined && !isIntIn(code_length, 4, 10)) {
      issues.push({ name: 'code_length', reason: '`code_length` must be an integer between 4 and 10' });
    }
    if (client_ref !== undefined && !isStringIn(client_ref, 1, 40)) {
      issues.push({ name: 'client_ref', reason: '`client_ref` must be 1 to 40 characters' });
    }
    if (locale !== undefined && (typeof locale !== 'string' || !LOCALE.test(locale))) {
      issues.push({ name: 'locale', reason: '`locale` is not a supported locale' });
    }
    if (issues.length) throw invalidParams(issues);
    return {
      brand: brand as string,
      steps,
      channelTimeout: (channel_timeout as number | undefined) ?? 180,
      codeLength: (code_length as number | undefined) ?? 4,
      clientRef: client_ref as string | undefined,
      locale: locale as string | undefined,
    };
  }

  /** Starts the current step: silent auth pre-check and action_pending, or an OTP "sent" to the outbox. */
  private startStep(v: Verification): void {
    const step = v.steps[v.stepIndex];
    const special = digitsOf(step.to);
    v.code = undefined;
    if (special === SPECIAL.networkBlocked) {
      // The anti-fraud network block: nothing is sent on any step, one `blocked` event ends the request.
      this.notify(v, 'blocked');
      return this.end(v, 'blocked');
    }
    if (step.channel === 'silent_auth') {
      if (special === SPECIAL.networkNotSupported) {
        this.notify(v, 'failed');
        return this.advance(v, 'failed');
      }
      this.notify(v, 'action_pending', { type: 'check', check_url: v.checkUrl });
      if (special === SPECIAL.userRejects) {
        this.notify(v, 'user_rejected');
        return this.end(v, 'user_rejected');
      }
    } else {
      v.code = randomString('0123456789', v.codeLength);
      if (step.channel !== 'sms' || special !== SPECIAL.smsNeverDelivered) {
        const text = `Your ${v.brand} verification code is ${v.code}`;
        this.opts.outbox.add({
          provider: 'vonage',
          channel: step.channel,
          to: step.to,
          body: step.channel === 'voice' ? `Voice call: ${text}` : text,
          code: v.code,
          ref: v.id,
        });
      }
    }
    const timeoutMs = v.channelTimeout * 1000 * (this.opts.stepTimeoutScale ?? 1);
    v.stepTimer = setTimeout(() => this.advance(v, 'expired'), timeoutMs).unref();
  }

  /** Moves to the next step, or ends the request (`expired` also sends the expired callback). */
  private advance(v: Verification, whenLast: 'failed' | 'expired'): void {
    clearTimeout(v.stepTimer);
    if (v.status !== 'active') return;
    if (v.stepIndex + 1 < v.steps.length) {
      v.stepIndex++;
      return this.startStep(v);
    }
    if (whenLast === 'expired') this.notify(v, 'expired');
    this.end(v, whenLast);
  }

  private end(v: Verification, status: Exclude<VonageRequestStatus, 'active'>): void {
    clearTimeout(v.stepTimer);
    v.status = status;
    v.code = undefined;
    this.log(`request ${v.id} ${status}`);
  }

  private active(id: string): Verification {
    const v = this.verifications.get(id);
    if (!v || v.status !== 'active') throw notFound(id);
    return v;
  }

  private openCheckUrl(id: string): Reply {
    const v = this.active(id);
    if (!v.checkUrl) throw notFound(id);
    if (!v.checkId) {
      v.checkId = randomUUID();
      this.checks.set(v.checkId, v.id);
    }
    return { status: 302, redirect: `${this.opts.publicBaseUrl()}/silent-auth/checks/${v.checkId}/redirect` };
  }

  private finishCheck(checkId: string): Reply {
    const v = this.active(this.checks.get(checkId) ?? checkId);
    if (digitsOf(v.steps[0].to) === SPECIAL.networkNotSupported) {
      throw problem(
        412,
        'Network not supported',
        'Device number does not resolve to a supported Mobile Network Operator.',
        'https://developer.vonage.com/en/api-errors/verify-v2#precondition-failed',
      );
    }
    if (v.steps[v.stepIndex].channel !== 'silent_auth' || v.silentAuthChecked) {
      throw conflict('The silent authentication step is no longer active.');
    }
    v.code ??= randomString(ALPHANUMERIC, 6);
    return { status: 200, body: { request_id: v.id, code: v.code } };
  }

  private checkCode(id: string, body: unknown): Reply {
    const v = this.verifications.get(id);
    if (v?.tooManyCodes) throw this.gone();
    if (!v || v.status !== 'active') throw notFound(id);
    const code = isRecord(body) ? body.code : undefined;
    if (typeof code !== 'string' || !CODE.test(code)) {
      throw invalidParams([{ name: 'code', reason: '`code` must be 4 to 10 alphanumeric characters' }]);
    }
    const channel = v.steps[v.stepIndex].channel;
    if (channel === 'silent_auth') {
      if (!v.code) throw conflict('The current Verify workflow step does not support a code.');
      if (v.silentAuthChecked) throw conflict('The silent authentication code can only be checked once.');
      v.silentAuthChecked = true;
    }
    if (code !== v.code) {
      v.wrongCodes++;
      if (v.wrongCodes < (this.opts.maxWrongCodes ?? 5)) throw invalidCode();
      v.tooManyCodes = true;
      this.notify(v, 'failed');
      this.end(v, 'failed');
      throw this.gone();
    }
    this.notify(v, 'completed');
    this.end(v, 'completed');
    return { status: 200, body: { request_id: v.id, status: 'completed' } };
  }

  private gone(): ProblemError {
    return problem(
      410,
      'Gone',
      'Invalid code provided too many times. Workflow terminated.',
      'https://www.developer.vonage.com/api-errors/verify#expired',
    );
  }

  private nextWorkflow(id: string): Reply {
    const v = this.active(id);
    if (v.stepIndex + 1 >= v.steps.length) throw conflict('There are no more workflows to progress to.');
    clearTimeout(v.stepTimer);
    v.stepIndex++;
    this.startStep(v);
    return { status: 200, body: {} };
  }

  private cancel(id: string): Reply {
    this.end(this.active(id), 'cancelled');
    return { status: 204 };
  }

  /** Queues a signed event callback for the current step; one request's callbacks are delivered in order. */
  private notify(v: Verification, status: string, action?: Record<string, unknown>): void {
    const raw = JSON.stringify({
      request_id: v.id,
      triggered_at: new Date().toISOString(),
      channel: v.steps[v.stepIndex].channel,
      status,
      ...(action ? { action } : {}),
      type: 'event',
      ...(v.clientRef ? { client_ref: v.clientRef } : {}),
    });
    const shuffleMs = this.opts.callbackShuffleMs ?? 0;
    const callback: Webhook = {
      label: `${status} callback for ${v.id}`,
      queue: shuffleMs > 0 ? undefined : v.id,
      request: () => ({
        url: this.opts.callbackUrl(),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.signCallback(raw)}` },
        body: raw,
      }),
      onAttempt: ({ attempt, ms, httpStatus, outcome }) => {
        this.opts.onCallbackAttempt?.({ requestId: v.id, status, attempt, ms, httpStatus, outcome });
        if (outcome === 'delivered') this.opts.onCallbackDelivered?.(ms, status);
      },
    };
    for (let copy = 0; copy < Math.max(1, this.opts.callbackCopies ?? 1); copy++) {
      if (shuffleMs > 0) void this.webhooks.sleep(Math.random() * shuffleMs).then(() => this.webhooks.send(callback));
      else this.webhooks.send(callback);
    }
  }

  /** Signs a callback as Vonage does: HS256 JWT with the SHA-256 of the exact body in `payload_hash`. */
  private signCallback(raw: string): string {
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const header = encode({ alg: 'HS256', typ: 'JWT' });
    const claims = encode({
      iat: Math.floor(Date.now() / 1000),
      jti: randomUUID(),
      iss: 'Vonage',
      payload_hash: createHash('sha256').update(raw, 'utf8').digest('hex'),
      api_key: 'sandbox',
      application_id: this.opts.applicationId,
    });
    const signature = createHmac('sha256', this.opts.signatureSecret).update(`${header}.${claims}`).digest('base64url');
    return `${header}.${claims}.${signature}`;
  }

  /** Forgets the oldest ended requests beyond the last 1000. */
  private prune(): void {
    const forget = (_id: string, v: Verification) => {
      if (v.checkId) this.checks.delete(v.checkId);
    };
    pruneOldest(this.verifications, MAX_KEPT_REQUESTS, (v) => v.status === 'active', forget);
  }

  private snapshot(v: Verification): EmulatedVerification {
    return {
      requestId: v.id,
      brand: v.brand,
      workflow: v.steps.map((s) => ({ ...s })),
      stepIndex: v.stepIndex,
      channel: v.steps[v.stepIndex].channel,
      channelTimeout: v.channelTimeout,
      codeLength: v.codeLength,
      clientRef: v.clientRef,
      locale: v.locale,
      status: v.status,
      wrongCodes: v.wrongCodes,
      checkUrl: v.checkUrl,
      createdAt: v.createdAt,
    };
  }

  private log(msg: string): void {
    this.opts.logger?.log(`vonage sandbox: ${msg}`);
  }
}
