import { randomBytes } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { signStripeWebhook, STRIPE_API_VERSION } from '../providers/stripe/webhook';
import { keepLast, pruneOldest } from './retention';
import { type HostedPageBackend, hostedPageUrl, stripeHostedPage } from './stripe-hosted-page';
import { WebhookSender } from './webhook-sender';
import {
  STRIPE_IDENTITY_CORRECTABLE_CODES,
  STRIPE_IDENTITY_TERMINAL_CODES,
  STRIPE_IDENTITY_UNCOUNTED_CODES,
  type StripeIdentityErrorCode,
} from '../workflows/contract';

/**
 * `last_error.reason` per code, as Stripe Identity's verification checks word them for the user: the contract's error
 * codes (workflows/contract/identity.ts) the emulator concludes. The contract knows more (address, e-mail and phone checks, an
 * unsupported device): the sandbox does not emulate those checks, so they have no reason here and are no outcome.
 */
const ERROR_REASONS = {
  consent_declined: 'The user declined to be verified by Stripe.',
  under_supported_age: 'Stripe does not verify users under the age of majority.',
  country_not_supported: 'Stripe does not verify users from the provided country.',
  document_expired: 'The provided identity document has expired.',
  document_unverified_other: 'Stripe could not verify the provided identity document.',
  document_type_not_supported: 'The provided identity document is not one of the allowed document types.',
  selfie_document_missing_photo: 'The provided identity document did not contain a picture of a face.',
  selfie_face_mismatch: 'The captured face image did not match the face on the document.',
  selfie_unverified_other: 'Stripe could not verify the provided selfie.',
  selfie_manipulated: 'The captured face image was manipulated.',
  id_number_unverified_other: 'Stripe could not verify the provided ID number.',
  id_number_insufficient_document_data: 'The provided document did not contain enough data to match the ID number.',
  id_number_mismatch: 'The information provided could not be matched against global databases.',
  abandoned: 'The user abandoned the verification flow.',
} as const satisfies Partial<Record<StripeIdentityErrorCode, string>>;
type EmulatedErrorCode = keyof typeof ERROR_REASONS;

/** What a person (the hosted page) or a test (the JSON call) chooses as the result of a submission. */
export type SandboxIdentityOutcome = 'verified' | 'processing_then_verified' | EmulatedErrorCode;
/**
 * Every outcome: the two successes, then the contract's error codes the emulator concludes, correctable ones first
 * (the order of the hosted page's buttons).
 */
export const SANDBOX_IDENTITY_OUTCOMES: readonly SandboxIdentityOutcome[] = [
  'verified',
  'processing_then_verified',
  ...[
    ...STRIPE_IDENTITY_CORRECTABLE_CODES,
    ...STRIPE_IDENTITY_TERMINAL_CODES,
    ...STRIPE_IDENTITY_UNCOUNTED_CODES,
  ].filter((code): code is EmulatedErrorCode => Object.hasOwn(ERROR_REASONS, code)),
];

export interface StripeIdentityEmulatorOptions {
  /** The only secret key accepted (`Authorization: Bearer sk_…`); anything else answers 401. */
  secretKey: string;
  /** Signs the events (`Stripe-Signature`, as Stripe signs them: providers/stripe/webhook.ts). */
  webhookSecret: string;
  /** Where events are POSTed (the app's `/webhooks/stripe`). */
  webhookUrl: () => string;
  /** The emulator's base URL as seen from outside (`…/sandbox/stripe`): session URLs point to its hosted page. */
  publicBaseUrl: () => string;
  /** Time a submission spends in `processing`. Default 300 ms (`processing_then_verified`: 10×). */
  processingDelayMs?: number;
  /** Time from the redact call to `redaction.status` redacted and the `redacted` event. Default 500 ms. */
  redactionDelayMs?: number;
  /** Delay before an event is sent. Default 50 ms. */
  eventDelayMs?: number;
  /** Retries of an event answered non-2xx or failing on the network. Default 5. */
  eventRetries?: number;
  /** First retry delay, doubled on every retry. Default 200 ms. */
  eventRetryBaseMs?: number;
  logger?: { log(msg: string): void; warn(msg: string): void };
}

/** Knobs of the JSON submission call, for tests of unordered and duplicated delivery. */
export interface SubmissionOptions {
  /** `reversed`: the `processing` event is delivered after the final one (its `created` stays the earlier). */
  eventOrder?: 'normal' | 'reversed';
  /** Deliver every event of this submission this many times (same event id). Default 1. */
  deliveries?: number;
}

interface Outputs {
  first_name: string;
  last_name: string;
  dob: { day: number; month: number; year: number };
  address: {
    line1: string;
    line2: string | null;
    city: string;
    state: string;
    postal_code: string;
    country: string;
  };
  id_number_type: string | null;
  email: null;
  phone: null;
}

interface Session {
  id: string;
  created: number;
  type: 'document' | 'id_number';
  metadata: Record<string, string>;
  options: { document?: Record<string, unknown>; id_number?: Record<string, never> };
  returnUrl: string | null;
  clientReferenceId: string | null;
  status: 'requires_input' | 'processing' | 'verified' | 'canceled';
  lastError: { code: string; reason: string } | null;
  lastReport: string | null;
  reports: string[];
  clientSecret: string | null;
  redaction: { status: 'processing' | 'redacted' } | null;
  outputs: Outputs | null;
}

/** A read-only view of an emulated session for tests (no client secret). */
export interface EmulatedSession {
  id: string;
  type: string;
  status: string;
  metadata: Record<string, string>;
  lastErrorCode: string | null;
  reports: string[];
  redaction: string | null;
}

/** A sent (or attempted) event, for tests. */
export interface EmulatedEvent {
  id: string;
  type: string;
  sessionId: string;
  created: number;
  /** HTTP statuses (or network errors) of each delivery attempt. */
  attempts: string[];
}

interface StripeErrorBody {
  type: 'invalid_request_error' | 'idempotency_error' | 'api_error';
  code?: string;
  message: string;
  param?: string;
}

class StripeHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
  ) {
    super(body.message);
  }
}

const invalid = (message: string, param?: string, code?: string) =>
  new StripeHttpError(400, {
    type: 'invalid_request_error',
    ...(code ? { code } : {}),
    message,
    ...(param ? { param } : {}),
  });
const missing = (id: string) =>
  new StripeHttpError(404, {
    type: 'invalid_request_error',
    code: 'resource_missing',
    message: `No such verification session: '${id}'`,
    param: 'session',
  });

const CREATE_PARAMS = new Set([
  'type',
  'metadata',
  'options',
  'provided_details',
  'return_url',
  'client_reference_id',
  'related_customer',
  'related_customer_account',
  'related_person',
  'verification_flow',
  'expand',
]);
const DOCUMENT_OPTIONS = new Set([
  'allowed_types',
  'require_id_number',
  'require_live_capture',
  'require_matching_selfie',
]);
const DOCUMENT_TYPES = ['driving_license', 'id_card', 'passport'];
const EXPANDABLE = new Set([
  'verified_outputs',
  'verified_outputs.dob',
  'verified_outputs.id_number',
  'last_verification_report',
]);
const MAX_KEPT_SESSIONS = 1000;
const MAX_KEPT_KEYS = 5000;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const randomId = (prefix: string, length = 24) =>
  prefix +
  randomBytes(length)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, length)
    .padEnd(length, '0');
const now = () => Math.floor(Date.now() / 1000);

/** The sandbox person: what a verified session's outputs say. */
const SANDBOX_PERSON = {
  first_name: 'Jenny',
  last_name: 'Rosen',
  dob: { day: 15, month: 1, year: 1990 },
  address: {
    line1: '1234 Main St.',
    line2: null,
    city: 'San Francisco',
    state: 'CA',
    postal_code: '94111',
    country: 'US',
  },
};

/**
 * Offline emulator of Stripe Identity's VerificationSession API, faithful to its API reference and Stripe Identity's verification checks: the same paths
 * (`/v1/identity/verification_sessions`, `/:id`, `/:id/cancel`, `/:id/redact`), form-encoded bodies, status rules
 * (cancel only from requires_input; redact from requires_input — which cancels — or verified), error bodies
 * (`{error: {type, code, message, param}}`), `last_error`, verified outputs (expand), redaction placeholders and
 * `Idempotency-Key`. Events are signed like Stripe signs them and POSTed to the app, retried on non-2xx. Its router
 * also serves the hosted page (stripe-hosted-page.ts, the session's `url`), where a person picks the outcome of a
 * submission; tests POST it as JSON.
 */
export class StripeIdentityEmulator {
  private readonly sessions = new Map<string, Session>();
  private readonly idempotent = new Map<string, { fingerprint: string; status: number; body: unknown }>();
  private readonly sent: EmulatedEvent[] = [];
  private readonly webhooks = new WebhookSender({
    name: 'stripe sandbox',
    timing: () => ({
      delayMs: this.opts.eventDelayMs,
      retries: this.opts.eventRetries,
      retryBaseMs: this.opts.eventRetryBaseMs,
    }),
    logger: { warn: (msg) => this.opts.logger?.warn(msg) },
  });

  /** Read-only views for tests. */
  readonly inspect = {
    session: (id: string): EmulatedSession | undefined => {
      const s = this.sessions.get(id);
      return s && this.view(s);
    },
    sessions: (): EmulatedSession[] => [...this.sessions.values()].map((s) => this.view(s)),
    events: (sessionId?: string): EmulatedEvent[] => this.sent.filter((e) => !sessionId || e.sessionId === sessionId),
  };

  constructor(private readonly opts: StripeIdentityEmulatorOptions) {}

  /** The routes; mount at the base the SDK's API base points to (e.g. `/sandbox/stripe`). */
  router(): Router {
    const r = express.Router();
    const forms = express.urlencoded({ extended: true, limit: '100kb' });
    r.use('/v1', this.authenticate, forms);
    r.post(
      '/v1/identity/verification_sessions',
      this.handle((req, res) => this.idempotently(req, res, () => this.create(req.body))),
    );
    r.get(
      '/v1/identity/verification_sessions/:id',
      this.handle((req) => ({ status: 200, body: this.json(this.find(String(req.params.id)), expansions(req)) })),
    );
    r.post(
      '/v1/identity/verification_sessions/:id/cancel',
      this.handle((req, res) => this.idempotently(req, res, () => this.cancel(String(req.params.id), req.body))),
    );
    r.post(
      '/v1/identity/verification_sessions/:id/redact',
      this.handle((req, res) => this.idempotently(req, res, () => this.redact(String(req.params.id), req.body))),
    );
    r.use(
      '/v1',
      this.handle((req) => {
        throw new StripeHttpError(404, {
          type: 'invalid_request_error',
          message: `Unrecognized request URL (${req.method}: ${req.originalUrl.split('?')[0]}).`,
        });
      }),
    );
    r.use(stripeHostedPage(this.hostedPageBackend()));
    return r;
  }

  /** What the hosted page reads and does: the session as a person sees it, and submissions with Stripe's errors. */
  private hostedPageBackend(): HostedPageBackend {
    return {
      publicBaseUrl: () => this.opts.publicBaseUrl(),
      session: (id) => {
        const s = this.sessions.get(id);
        return (
          s && {
            id: s.id,
            type: s.type,
            status: s.status,
            redaction: s.redaction?.status ?? null,
            lastError: s.lastError,
            returnUrl: s.returnUrl,
            outcomes: this.outcomesFor(s),
          }
        );
      },
      submit: (id, outcome, options) => {
        try {
          return { ok: true, session: this.submit(id, outcome as SandboxIdentityOutcome, options) };
        } catch (err) {
          if (!(err instanceof StripeHttpError)) throw err;
          return { ok: false, status: err.status, error: err.body };
        }
      },
    };
  }

  /** Stops pending event deliveries and timers. */
  close(): void {
    this.webhooks.close();
  }

  /**
   * Submits the user's attempt with the chosen outcome, as the hosted page does (tests call it directly or POST
   * `/verify/:id` with JSON). Only a session in requires_input takes a submission.
   */
  submit(id: string, outcome: SandboxIdentityOutcome, options: SubmissionOptions = {}): EmulatedSession {
    const s = this.find(id);
    if (s.status !== 'requires_input' || s.redaction) {
      throw new StripeHttpError(409, {
        type: 'invalid_request_error',
        message: `This VerificationSession takes no submission: its status is ${s.redaction ? 'redacted' : s.status}.`,
      });
    }
    if (!SANDBOX_IDENTITY_OUTCOMES.includes(outcome)) {
      throw invalid(`Unknown outcome ${String(outcome)}: one of ${SANDBOX_IDENTITY_OUTCOMES.join(', ')}.`, 'outcome');
    }
    if (!this.outcomesFor(s).includes(outcome)) {
      throw invalid(`The outcome ${outcome} does not apply to this session's type and options.`, 'outcome');
    }
    const deliveries = Math.max(1, Math.min(5, options.deliveries ?? 1));
    s.clientSecret = null; // single use: the submission consumed it
    if (outcome === 'abandoned' || outcome === 'consent_declined') {
      // No documents reached Stripe: straight back to requires_input.
      this.fail(s, outcome, outcome === 'consent_declined', deliveries);
      return this.view(s);
    }
    s.status = 'processing';
    s.lastError = null;
    const processing = this.event(s, 'processing');
    const reversed = options.eventOrder === 'reversed';
    if (!reversed) this.emit(s, processing, deliveries);
    const delay = (this.opts.processingDelayMs ?? 300) * (outcome === 'processing_then_verified' ? 10 : 1);
    void this.webhooks.sleep(delay).then(() => {
      if (this.webhooks.closed || s.status !== 'processing') return;
      if (outcome === 'verified' || outcome === 'processing_then_verified') {
        s.status = 'verified';
        s.lastReport = this.newReport(s);
        s.outputs = this.outputsFor(s);
        this.emit(s, this.event(s, 'verified'), deliveries);
      } else {
        this.fail(s, outcome, true, deliveries);
      }
      if (reversed) this.emit(s, processing, deliveries);
    });
    return this.view(s);
  }

  private fail(s: Session, code: EmulatedErrorCode, withReport: boolean, deliveries: number): void {
    s.status = 'requires_input';
    s.lastError = { code, reason: ERROR_REASONS[code] };
    if (withReport) s.lastReport = this.newReport(s);
    s.clientSecret = this.newClientSecret(s); // a retry needs a fresh secret (retrieve hands it out)
    this.emit(s, this.event(s, 'requires_input'), deliveries);
  }

  private newReport(s: Session): string {
    const report = randomId('vr_');
    s.reports.push(report);
    return report;
  }

  private newClientSecret(s: Session): string {
    return `${s.id}_secret_${randomId('', 24)}`;
  }

  private outputsFor(s: Session): Outputs {
    const withIdNumber = s.type === 'id_number' || s.options.document?.require_id_number === true;
    return { ...SANDBOX_PERSON, id_number_type: withIdNumber ? 'us_ssn' : null, email: null, phone: null };
  }

  /** The outcomes that make sense for a session: selfie ones need a selfie check, ID-number ones an ID number. */
  outcomesFor(s: Pick<Session, 'type' | 'options'>): SandboxIdentityOutcome[] {
    const selfie = s.options.document?.require_matching_selfie === true;
    const idNumber = s.type === 'id_number' || s.options.document?.require_id_number === true;
    return SANDBOX_IDENTITY_OUTCOMES.filter((o) => {
      if (o.startsWith('selfie_')) return selfie;
      if (o.startsWith('id_number_')) return idNumber;
      if (o.startsWith('document_')) return s.type === 'document';
      return true;
    });
  }

  private create(body: unknown): { status: number; body: unknown } {
    const params = isRecord(body) ? body : {};
    for (const key of Object.keys(params)) {
      if (!CREATE_PARAMS.has(key)) throw invalid(`Received unknown parameter: ${key}`, key, 'parameter_unknown');
    }
    const { type, metadata, options, return_url, client_reference_id, verification_flow } = params;
    if (verification_flow !== undefined) {
      throw invalid('Verification flows are not available in the sandbox.', 'verification_flow');
    }
    if (type === undefined || type === '') throw invalid('Missing required param: type.', 'type', 'parameter_missing');
    if (type !== 'document' && type !== 'id_number') {
      throw invalid('Invalid type: must be one of document, id_number, or verification_flow', 'type');
    }
    const meta: Record<string, string> = {};
    if (metadata !== undefined && metadata !== '') {
      if (!isRecord(metadata)) throw invalid('Invalid object', 'metadata');
      const entries = Object.entries(metadata);
      if (entries.length > 50) throw invalid('Metadata can have at most 50 keys.', 'metadata');
      for (const [k, v] of entries) {
        if (k.length > 40) throw invalid('Metadata keys can be at most 40 characters.', `metadata[${k}]`);
        if (typeof v !== 'string' || v.length > 500) {
          throw invalid('Metadata values must be strings of at most 500 characters.', `metadata[${k}]`);
        }
        meta[k] = v;
      }
    }
    const sessionOptions: Session['options'] = {};
    if (options !== undefined && options !== '') {
      if (!isRecord(options)) throw invalid('Invalid object', 'options');
      for (const key of Object.keys(options)) {
        if (key !== 'document')
          throw invalid(`Received unknown parameter: options[${key}]`, `options[${key}]`, 'parameter_unknown');
      }
      const document = options.document;
      if (document !== undefined && document !== '') {
        if (!isRecord(document)) throw invalid('Invalid object', 'options[document]');
        const parsed: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(document)) {
          const param = `options[document][${key}]`;
          if (!DOCUMENT_OPTIONS.has(key))
            throw invalid(`Received unknown parameter: ${param}`, param, 'parameter_unknown');
          if (key === 'allowed_types') {
            const list = Array.isArray(value) ? value : isRecord(value) ? Object.values(value) : [value];
            list.forEach((t, i) => {
              if (!DOCUMENT_TYPES.includes(String(t))) {
                throw invalid(
                  `Invalid ${param}[${i}]: must be one of driving_license, id_card, or passport`,
                  `${param}[${i}]`,
                );
              }
            });
            parsed.allowed_types = list.map(String);
          } else {
            if (value !== 'true' && value !== 'false' && value !== true && value !== false) {
              throw invalid(`Invalid boolean: ${String(value)}`, param);
            }
            parsed[key] = value === 'true' || value === true;
          }
        }
        sessionOptions.document = parsed;
      }
    }
    if (type === 'document') sessionOptions.document ??= {};
    if (type === 'id_number') sessionOptions.id_number = {};
    if (return_url !== undefined) {
      try {
        const u = new URL(String(return_url));
        if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('scheme');
      } catch {
        throw invalid('Not a valid URL', 'return_url', 'url_invalid');
      }
    }
    const id = randomId('vs_');
    const s: Session = {
      id,
      created: now(),
      type,
      metadata: meta,
      options: sessionOptions,
      returnUrl: return_url === undefined ? null : String(return_url),
      clientReferenceId: typeof client_reference_id === 'string' ? client_reference_id : null,
      status: 'requires_input',
      lastError: null,
      lastReport: null,
      reports: [],
      clientSecret: null,
      redaction: null,
      outputs: null,
    };
    s.clientSecret = this.newClientSecret(s);
    this.sessions.set(id, s);
    this.prune();
    this.log(`session ${id} created (${type})`);
    this.emit(s, this.event(s, 'created'));
    return { status: 200, body: this.json(s, expansions(undefined, params.expand)) };
  }

  private cancel(id: string, body: unknown): { status: number; body: unknown } {
    const s = this.find(id);
    if (s.redaction) throw invalid('This VerificationSession has been redacted and can no longer be updated.');
    if (s.status !== 'requires_input') {
      throw invalid(
        `You can only cancel a VerificationSession with status requires_input. This VerificationSession has status ${s.status}.`,
      );
    }
    s.status = 'canceled';
    s.clientSecret = null;
    this.emit(s, this.event(s, 'canceled'));
    return { status: 200, body: this.json(s, expansions(undefined, isRecord(body) ? body.expand : undefined)) };
  }

  private redact(id: string, body: unknown): { status: number; body: unknown } {
    const s = this.find(id);
    const expand = expansions(undefined, isRecord(body) ? body.expand : undefined);
    if (s.redaction) return { status: 200, body: this.json(s, expand) };
    if (s.status === 'processing') {
      throw invalid('This VerificationSession is processing: redact it once processing has finished.');
    }
    if (s.status === 'canceled') {
      throw invalid('You can only redact a VerificationSession with status requires_input or verified.');
    }
    s.redaction = { status: 'processing' };
    if (s.status === 'requires_input') {
      // VerificationSession API reference: redacting a session that waits on the user cancels it.
      s.status = 'canceled';
      s.clientSecret = null;
      this.emit(s, this.event(s, 'canceled'));
    }
    void this.webhooks.sleep(this.opts.redactionDelayMs ?? 500).then(() => {
      if (this.webhooks.closed) return;
      s.redaction = { status: 'redacted' };
      s.metadata = {};
      s.clientReferenceId = null;
      this.emit(s, this.event(s, 'redacted'));
    });
    return { status: 200, body: this.json(s, expand) };
  }

  /** The session as the API shows it: client secret and url only while it waits on the user; placeholders once redacted. */
  private json(s: Session, expand: Set<string>): Record<string, unknown> {
    const redacted = s.redaction?.status === 'redacted';
    const waiting = s.status === 'requires_input' && !s.redaction;
    const body: Record<string, unknown> = {
      id: s.id,
      object: 'identity.verification_session',
      client_reference_id: redacted ? null : s.clientReferenceId,
      client_secret: waiting ? s.clientSecret : null,
      created: s.created,
      last_error: s.lastError,
      last_verification_report: s.lastReport,
      livemode: false,
      metadata: redacted ? {} : s.metadata,
      options: s.options,
      provided_details: null,
      redaction: s.redaction,
      related_customer: null,
      related_customer_account: null,
      status: s.status,
      type: s.type,
      url: waiting ? hostedPageUrl(this.opts.publicBaseUrl(), s.id) : null,
    };
    if (expand.has('verified_outputs')) {
      const o = s.outputs;
      const placeholder = (v: string | null) => (v === null ? null : '[redacted]');
      body.verified_outputs = o && {
        first_name: redacted ? '[redacted]' : o.first_name,
        last_name: redacted ? '[redacted]' : o.last_name,
        address: redacted
          ? {
              line1: placeholder(o.address.line1),
              line2: placeholder(o.address.line2),
              city: placeholder(o.address.city),
              state: placeholder(o.address.state),
              postal_code: placeholder(o.address.postal_code),
              country: o.address.country,
            }
          : o.address,
        id_number_type: o.id_number_type,
        email: o.email,
        phone: o.phone,
        ...(expand.has('verified_outputs.dob') ? { dob: redacted ? { year: 1, month: 1, day: 1 } : o.dob } : {}),
        ...(expand.has('verified_outputs.id_number') && o.id_number_type
          ? { id_number: redacted ? '[redacted]' : '000000000' }
          : {}),
      };
    }
    return body;
  }

  private view(s: Session): EmulatedSession {
    return {
      id: s.id,
      type: s.type,
      status: s.status,
      metadata: { ...s.metadata },
      lastErrorCode: s.lastError?.code ?? null,
      reports: [...s.reports],
      redaction: s.redaction?.status ?? null,
    };
  }

  private find(id: string): Session {
    const s = this.sessions.get(id);
    if (!s) throw missing(id);
    return s;
  }

  /** A Stripe event with the session as it is now (no client secret, no url, no outputs). */
  private event(s: Session, type: string): { id: string; type: string; created: number; raw: string } {
    const id = randomId('evt_');
    const created = now();
    const object = { ...this.json(s, new Set()), client_secret: null, url: null };
    const raw = JSON.stringify({
      id,
      object: 'event',
      api_version: STRIPE_API_VERSION,
      created,
      data: { object },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type: `identity.verification_session.${type}`,
    });
    return { id, type: `identity.verification_session.${type}`, created, raw };
  }

  /** Queues an event for delivery after the session's earlier ones, signed at sending time. */
  private emit(s: Session, event: { id: string; type: string; created: number; raw: string }, deliveries = 1): void {
    const record: EmulatedEvent = {
      id: event.id,
      type: event.type,
      sessionId: s.id,
      created: event.created,
      attempts: [],
    };
    this.sent.push(record);
    keepLast(this.sent, MAX_KEPT_KEYS);
    for (let i = 0; i < deliveries; i++) {
      this.webhooks.send({
        label: `${record.type} ${record.id}`,
        queue: s.id,
        request: () => ({
          url: this.opts.webhookUrl(),
          headers: {
            'content-type': 'application/json; charset=utf-8',
            'stripe-signature': signStripeWebhook(event.raw, this.opts.webhookSecret),
            'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
          },
          body: event.raw,
        }),
        onAttempt: ({ httpStatus, failure }) =>
          record.attempts.push(httpStatus !== undefined ? String(httpStatus) : failure!),
      });
    }
  }

  private readonly authenticate = (req: Request, res: Response, next: NextFunction) => {
    const header = req.get('authorization') ?? '';
    const bearer = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    const basic = /^Basic\s+(\S+)$/i.exec(header)?.[1];
    const key = bearer ?? (basic ? Buffer.from(basic, 'base64').toString('utf8').split(':')[0] : undefined);
    if (key === this.opts.secretKey) return next();
    const shown = key ? `${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}` : '';
    res.status(401).json({
      error: {
        type: 'invalid_request_error',
        message: key
          ? `Invalid API Key provided: ${shown}`
          : "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
      },
    });
  };

  /** Same `Idempotency-Key` and same parameters → the same answer (marked replayed); other parameters → 400. */
  private idempotently(req: Request, res: Response, run: () => { status: number; body: unknown }) {
    const key = req.get('idempotency-key');
    if (!key) return run();
    const fingerprint = `${req.method} ${req.baseUrl}${req.path} ${JSON.stringify(req.body ?? {})}`;
    const stored = this.idempotent.get(key);
    if (stored) {
      if (stored.fingerprint !== fingerprint) {
        throw new StripeHttpError(400, {
          type: 'idempotency_error',
          message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        });
      }
      res.set('Idempotent-Replayed', 'true');
      return { status: stored.status, body: stored.body };
    }
    const reply = run();
    this.idempotent.set(key, { fingerprint, ...reply });
    pruneOldest(this.idempotent, MAX_KEPT_KEYS, () => false);
    return reply;
  }

  private handle(fn: (req: Request, res: Response) => { status: number; body: unknown }) {
    return (req: Request, res: Response) => {
      res.set('Request-Id', randomId('req_', 14));
      try {
        const reply = fn(req, res);
        res.status(reply.status).json(reply.body);
      } catch (err) {
        if (!(err instanceof StripeHttpError)) throw err;
        res.status(err.status).json({ error: err.body });
      }
    };
  }

  /** Forgets the oldest finished sessions beyond the last 1000. */
  private prune(): void {
    pruneOldest(this.sessions, MAX_KEPT_SESSIONS, (s) => s.status === 'requires_input' || s.status === 'processing');
  }

  private log(msg: string): void {
    this.opts.logger?.log(`stripe sandbox: ${msg}`);
  }
}

/** `expand[]` of a GET query string (`expand[]=a`, `expand[0]=a`) or of a form body (`expand: [...]`). */
function expansions(req: Request | undefined, bodyExpand?: unknown): Set<string> {
  const out = new Set<string>();
  const add = (v: unknown) => {
    const value = String(v);
    if (!EXPANDABLE.has(value)) throw invalid(`This property cannot be expanded (${value}).`, 'expand');
    out.add(value);
  };
  if (req) {
    const query = new URLSearchParams(req.originalUrl.split('?')[1] ?? '');
    for (const [key, value] of query) if (/^expand(\[\d*\])?$/.test(key)) add(value);
  }
  if (Array.isArray(bodyExpand)) bodyExpand.forEach(add);
  else if (isRecord(bodyExpand)) Object.values(bodyExpand).forEach(add);
  else if (typeof bodyExpand === 'string') add(bodyExpand);
  return out;
}
