import { ApplicationFailure } from '@temporalio/common';
import Stripe from 'stripe';
import { FailureType, type IdentityDocumentOptions, type IdentityVerifiedOutputs } from '../../workflows/contract';
import { retryAfterMs } from '../retry-after';

/** A VerificationSession as the workflows see it: no client secret, outputs only when asked for. */
export interface StripeSessionSnapshot {
  id: string;
  /** requires_input | processing | verified | canceled (or a status this version does not know). */
  status: string;
  lastErrorCode: string | null;
  lastErrorMessage: string | null;
  /** `last_verification_report`: one per submission. */
  reportId: string | null;
  /** `redaction.status`: null, processing or redacted. */
  redactionStatus: string | null;
  /** Only from `retrieveSession(id, { expandOutputs: true })` on a verified session (PII). */
  verifiedOutputs?: IdentityVerifiedOutputs;
}

export interface StripeCreateSessionParams {
  type: 'document' | 'id_number';
  options?: IdentityDocumentOptions;
  returnUrl?: string;
  /** Goes to `metadata.workflow_id`: webhooks route by it. */
  workflowId: string;
  /** Goes to `metadata.reference` (a platform user id, not PII). */
  reference: string;
  /** Stripe `Idempotency-Key`: the same key returns the same session instead of creating a second one. */
  idempotencyKey: string;
}

/** What the API hands to the user's browser; fetched on demand, never stored or logged. */
export interface StripeClientSecret {
  status: string;
  clientSecret: string | null;
  url: string | null;
}

/** The narrow interface the activities (and the API's client-secret endpoint) use; the only door to the Stripe SDK. */
export interface StripeIdentity {
  createSession(params: StripeCreateSessionParams): Promise<StripeSessionSnapshot>;
  retrieveSession(sessionId: string, opts?: { expandOutputs?: boolean }): Promise<StripeSessionSnapshot>;
  /** true when Stripe cancelled the session; false when its status does not allow it (only requires_input does). */
  cancelSession(sessionId: string): Promise<boolean>;
  /** Starts the redaction (Stripe answers with `redaction.status` processing; the `redacted` event follows). */
  redactSession(sessionId: string): Promise<StripeSessionSnapshot>;
  /** API side only (the browser needs it): never returned to a workflow. */
  clientSecret(sessionId: string): Promise<StripeClientSecret>;
}

export interface StripeIdentityAdapterOptions {
  secretKey: string;
  /** Base URL override: the sandbox emulator (`http://127.0.0.1:3000/sandbox/stripe`), stripe-mock, a proxy. */
  apiBase?: string;
  timeoutMs?: number;
}

type HttpClient = NonNullable<Stripe.StripeConfig['httpClient']>;

/** Serves an API base with a path (`…/sandbox/stripe`): the SDK only takes host, port and protocol. */
function prefixedHttpClient(prefix: string): HttpClient {
  const inner = Stripe.createNodeHttpClient();
  return {
    getClientName: () => inner.getClientName(),
    makeRequest: (host, port, path, ...rest) => inner.makeRequest(host, port, `${prefix}${path}`, ...rest),
  };
}

/** The SDK client: host override from `apiBase`, and no SDK retries, because Temporal owns retries. */
export function createStripeClient(options: StripeIdentityAdapterOptions): Stripe {
  const config: Stripe.StripeConfig = { maxNetworkRetries: 0, timeout: options.timeoutMs ?? 20_000, telemetry: false };
  if (options.apiBase) {
    const base = new URL(options.apiBase);
    const prefix = base.pathname.replace(/\/$/, '');
    config.host = base.hostname;
    config.port = base.port || (base.protocol === 'https:' ? '443' : '80');
    config.protocol = base.protocol === 'https:' ? 'https' : 'http';
    if (prefix) config.httpClient = prefixedHttpClient(prefix);
  }
  return new Stripe(options.secretKey, config);
}

/**
 * Stripe Identity VerificationSessions over the `stripe` SDK. Classifies every answer at this boundary: 400 (our
 * request is invalid) → non-retryable `InvalidProviderRequest`, 404 → `ProviderNotFound`, 401/403 →
 * `ProviderAuthFailed`; 409/429/5xx/network stay retryable with Retry-After as the next delay. Never logs or returns
 * the client secret to a workflow.
 */
export class StripeIdentityAdapter implements StripeIdentity {
  private readonly stripe: Stripe;

  constructor(options: StripeIdentityAdapterOptions) {
    this.stripe = createStripeClient(options);
  }

  async createSession(params: StripeCreateSessionParams): Promise<StripeSessionSnapshot> {
    const document = params.options && {
      ...(params.options.allowedTypes ? { allowed_types: params.options.allowedTypes } : {}),
      ...(params.options.requireLiveCapture !== undefined
        ? { require_live_capture: params.options.requireLiveCapture }
        : {}),
      ...(params.options.requireMatchingSelfie !== undefined
        ? { require_matching_selfie: params.options.requireMatchingSelfie }
        : {}),
      ...(params.options.requireIdNumber !== undefined ? { require_id_number: params.options.requireIdNumber } : {}),
    };
    try {
      const session = await this.stripe.identity.verificationSessions.create(
        {
          type: params.type,
          metadata: { workflow_id: params.workflowId, reference: params.reference },
          ...(document && Object.keys(document).length ? { options: { document } } : {}),
          ...(params.returnUrl ? { return_url: params.returnUrl } : {}),
        },
        { idempotencyKey: params.idempotencyKey },
      );
      return toSnapshot(session, false);
    } catch (err) {
      throw classify(err, 'create session');
    }
  }

  async retrieveSession(sessionId: string, opts: { expandOutputs?: boolean } = {}): Promise<StripeSessionSnapshot> {
    try {
      const session = await this.stripe.identity.verificationSessions.retrieve(
        sessionId,
        // dob is expandable on its own (the VerificationSession API reference's redacted example expands both).
        opts.expandOutputs ? { expand: ['verified_outputs', 'verified_outputs.dob'] } : {},
      );
      return toSnapshot(session, !!opts.expandOutputs);
    } catch (err) {
      throw classify(err, 'retrieve session');
    }
  }

  async cancelSession(sessionId: string): Promise<boolean> {
    try {
      await this.stripe.identity.verificationSessions.cancel(sessionId);
      return true;
    } catch (err) {
      // Only requires_input can be cancelled: a 400 here is the session's status, not our request.
      if (stripeStatus(err) === 400) return false;
      throw classify(err, 'cancel session');
    }
  }

  async redactSession(sessionId: string): Promise<StripeSessionSnapshot> {
    try {
      return toSnapshot(await this.stripe.identity.verificationSessions.redact(sessionId), false);
    } catch (err) {
      // processing (wait until it ends) or canceled: the session's status refuses it, typed for the workflow.
      throw classify(err, 'redact session', { 400: FailureType.ProviderRejected });
    }
  }

  async clientSecret(sessionId: string): Promise<StripeClientSecret> {
    try {
      const session = await this.stripe.identity.verificationSessions.retrieve(sessionId);
      return { status: session.status, clientSecret: session.client_secret, url: session.url };
    } catch (err) {
      throw classify(err, 'retrieve session');
    }
  }
}

function toSnapshot(session: Stripe.Identity.VerificationSession, withOutputs: boolean): StripeSessionSnapshot {
  const report = session.last_verification_report;
  const snapshot: StripeSessionSnapshot = {
    id: session.id,
    status: session.status,
    lastErrorCode: session.last_error?.code ?? null,
    lastErrorMessage: session.last_error?.reason ?? null,
    reportId: typeof report === 'string' ? report : (report?.id ?? null),
    redactionStatus: session.redaction?.status ?? null,
  };
  const outputs = session.verified_outputs;
  if (withOutputs && outputs && typeof outputs === 'object') {
    snapshot.verifiedOutputs = {
      firstName: outputs.first_name ?? null,
      lastName: outputs.last_name ?? null,
      dob: outputs.dob ? { year: outputs.dob.year, month: outputs.dob.month, day: outputs.dob.day } : null,
      address: outputs.address
        ? {
            line1: outputs.address.line1 ?? null,
            line2: outputs.address.line2 ?? null,
            city: outputs.address.city ?? null,
            state: outputs.address.state ?? null,
            postalCode: outputs.address.postal_code ?? null,
            country: outputs.address.country ?? null,
          }
        : null,
      idNumberType: outputs.id_number_type ?? null,
    };
  }
  return snapshot;
}

function stripeStatus(err: unknown): number | undefined {
  return err instanceof Stripe.errors.StripeError ? err.statusCode : undefined;
}

/** Turns a Stripe SDK error into a typed failure: non-retryable for rejections, retryable for outages. */
export function classify(err: unknown, what: string, extra: Record<number, FailureType> = {}): Error {
  if (err instanceof ApplicationFailure) return err;
  if (!(err instanceof Stripe.errors.StripeError)) return err instanceof Error ? err : new Error(String(err));
  const status = err.statusCode;
  const detail = [err.code, err.param && `param ${err.param}`].filter(Boolean).join(', ');
  const message = `Stripe ${what} failed: ${status ? `HTTP ${status} ` : ''}${err.rawType ?? err.type}${detail ? ` (${detail})` : ''}: ${err.message}`;
  if (err instanceof Stripe.errors.StripeConnectionError || status === undefined) {
    return ApplicationFailure.create({ type: 'ProviderUnavailable', message, nonRetryable: false });
  }
  if (status === 401 || status === 403) {
    return ApplicationFailure.create({ type: FailureType.ProviderAuthFailed, message, nonRetryable: true });
  }
  if (extra[status]) return ApplicationFailure.create({ type: extra[status], message, nonRetryable: true });
  if (status === 404)
    return ApplicationFailure.create({ type: FailureType.ProviderNotFound, message, nonRetryable: true });
  if (status === 400 || status === 402) {
    return ApplicationFailure.create({ type: FailureType.InvalidProviderRequest, message, nonRetryable: true });
  }
  const header = err.headers?.['retry-after'] ?? err.headers?.['Retry-After'];
  return ApplicationFailure.create({
    type: 'ProviderUnavailable',
    message,
    // 409 is an idempotent request still in flight at Stripe, 429 a rate limit, 5xx an outage: all worth a retry.
    nonRetryable: status < 500 && status !== 429 && status !== 409 && status !== 408,
    nextRetryDelay: retryAfterMs(header ?? null),
  });
}
