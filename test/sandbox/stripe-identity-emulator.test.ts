import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import express from 'express';
import Stripe from 'stripe';
import { classify, createStripeClient, StripeIdentityAdapter } from '../../providers/stripe/identity';
import { verifyStripeWebhook } from '../../providers/stripe/webhook';
import { StripeIdentityEmulator, type StripeIdentityEmulatorOptions } from '../../sandbox/stripe-identity-emulator';
import { FailureType } from '../../workflows/contract';
import { freePort } from '../support/ports';

const SECRET_KEY = 'sk_test_emulator_unit';
const WEBHOOK_SECRET = 'whsec_emulator_unit';

interface Received {
  raw: string;
  event: Stripe.Event;
  answered: number;
}

function listen(app: express.Express): Promise<Server> {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server));
  });
}
const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

async function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The SDK error a call fails with. */
async function stripeError(call: Promise<unknown>): Promise<InstanceType<typeof Stripe.errors.StripeError>> {
  try {
    await call;
  } catch (err) {
    if (err instanceof Stripe.errors.StripeError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

/** The emulator on one express app, a webhook receiver (verifying signatures with the SDK) on another. */
async function startSandbox(overrides: Partial<StripeIdentityEmulatorOptions> = {}) {
  const received: Received[] = [];
  const receiverState = { failNext: 0 };
  const receiver = express();
  receiver.post('/webhooks/stripe', express.raw({ type: '*/*' }), (req, res) => {
    const raw = (req.body as Buffer).toString('utf8');
    // The signature must verify against the exact body, as our webhook controller checks it.
    const event = Stripe.webhooks.constructEvent(raw, req.get('stripe-signature') ?? '', WEBHOOK_SECRET);
    const answered = receiverState.failNext > 0 ? 500 : 200;
    if (answered === 500) receiverState.failNext--;
    received.push({ raw, event, answered });
    res.status(answered).end();
  });
  const receiverServer = await listen(receiver);
  let baseUrl = '';
  const emulator = new StripeIdentityEmulator({
    secretKey: SECRET_KEY,
    webhookSecret: WEBHOOK_SECRET,
    webhookUrl: () => `${urlOf(receiverServer)}/webhooks/stripe`,
    publicBaseUrl: () => baseUrl,
    processingDelayMs: 30,
    redactionDelayMs: 30,
    eventDelayMs: 5,
    eventRetryBaseMs: 20,
    ...overrides,
  });
  const app = express();
  app.use('/sandbox/stripe', emulator.router());
  const server = await listen(app);
  baseUrl = `${urlOf(server)}/sandbox/stripe`;
  const stripe = createStripeClient({ secretKey: SECRET_KEY, apiBase: baseUrl });
  const adapter = new StripeIdentityAdapter({ secretKey: SECRET_KEY, apiBase: baseUrl });
  const eventFor = (sessionId: string, type: string, nth = 0) =>
    waitFor(
      () =>
        received.filter(
          (r) =>
            r.event.type === `identity.verification_session.${type}` &&
            (r.event.data.object as { id: string }).id === sessionId,
        )[nth],
      `${type} event`,
    );
  const close = async () => {
    emulator.close();
    for (const s of [server, receiverServer]) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  };
  return { stripe, adapter, emulator, received, receiverState, baseUrl, eventFor, close };
}
type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

const createParams = {
  type: 'document' as const,
  workflowId: 'identity-user-1',
  reference: 'user-1',
  idempotencyKey: 'identity-user-1:run:create',
};

describe('Stripe Identity sandbox emulator (driven by the stripe SDK)', () => {
  let sb: Sandbox;
  afterEach(async () => sb?.close());

  test('create: session in requires_input with client secret, hosted url, metadata and options; signed created event', async () => {
    sb = await startSandbox();
    const session = await sb.stripe.identity.verificationSessions.create({
      type: 'document',
      metadata: { workflow_id: 'identity-user-1', reference: 'user-1' },
      options: { document: { allowed_types: ['passport', 'id_card'], require_matching_selfie: true } },
      return_url: 'https://app.example/done',
    });
    expect(session).toMatchObject({
      object: 'identity.verification_session',
      status: 'requires_input',
      type: 'document',
      last_error: null,
      last_verification_report: null,
      redaction: null,
      livemode: false,
      metadata: { workflow_id: 'identity-user-1', reference: 'user-1' },
      options: { document: { allowed_types: ['passport', 'id_card'], require_matching_selfie: true } },
      url: `${sb.baseUrl}/verify/${session.id}`,
    });
    expect(session.id).toMatch(/^vs_[A-Za-z0-9]{24}$/);
    expect(session.client_secret).toMatch(new RegExp(`^${session.id}_secret_`));
    expect(session.verified_outputs).toBeUndefined();

    const created = await sb.eventFor(session.id, 'created');
    expect(created.event.id).toMatch(/^evt_/);
    const object = created.event.data.object as Stripe.Identity.VerificationSession;
    // Events never carry the client secret.
    expect(object.client_secret).toBeNull();
    expect(created.raw).not.toContain('_secret_');
    expect(() => verifyStripeWebhook(created.raw, undefined, WEBHOOK_SECRET)).toThrow(/missing Stripe-Signature/);
    expect(verifyStripeWebhook(created.raw, sigOf(created.raw), WEBHOOK_SECRET)).toMatchObject({
      stripeType: 'identity.verification_session.created',
      workflowId: 'identity-user-1',
      event: { eventId: created.event.id, type: 'created', sessionId: session.id, sessionStatus: 'requires_input' },
    });
  });

  test('Idempotency-Key: same key and parameters → the same session (replayed); other parameters → idempotency_error', async () => {
    sb = await startSandbox();
    const first = await sb.adapter.createSession(createParams);
    const again = await sb.stripe.identity.verificationSessions.create(
      { type: 'document', metadata: { workflow_id: 'identity-user-1', reference: 'user-1' } },
      { idempotencyKey: createParams.idempotencyKey },
    );
    expect(again.id).toBe(first.id);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(sb.emulator.inspect.sessions()).toHaveLength(1);

    const err = await stripeError(
      sb.stripe.identity.verificationSessions.create(
        { type: 'id_number', metadata: { workflow_id: 'identity-user-1', reference: 'user-1' } },
        { idempotencyKey: createParams.idempotencyKey },
      ),
    );
    expect(err).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(err.statusCode).toBe(400);
    expect(classify(err, 'create')).toMatchObject({ type: FailureType.InvalidProviderRequest, nonRetryable: true });
  });

  test('error bodies: missing type, unknown parameter, bad document type, bad return_url, unknown session, bad key', async () => {
    sb = await startSandbox();
    const create = (params: Record<string, unknown>) =>
      stripeError(
        sb.stripe.identity.verificationSessions.create(params as Stripe.Identity.VerificationSessionCreateParams),
      );

    expect(await create({})).toMatchObject({
      statusCode: 400,
      type: 'StripeInvalidRequestError',
      code: 'parameter_missing',
      param: 'type',
      message: 'Missing required param: type.',
    });
    expect(await create({ type: 'document', nickname: 'x' })).toMatchObject({
      statusCode: 400,
      code: 'parameter_unknown',
      param: 'nickname',
    });
    expect(
      await create({ type: 'document', options: { document: { allowed_types: ['library_card'] } } }),
    ).toMatchObject({
      statusCode: 400,
      param: 'options[document][allowed_types][0]',
    });
    expect(await create({ type: 'document', return_url: 'not a url' })).toMatchObject({
      statusCode: 400,
      code: 'url_invalid',
      param: 'return_url',
    });

    const missing = await stripeError(sb.stripe.identity.verificationSessions.retrieve('vs_unknown'));
    expect(missing).toMatchObject({ statusCode: 404, code: 'resource_missing' });
    await expect(sb.adapter.retrieveSession('vs_unknown')).rejects.toMatchObject({
      type: FailureType.ProviderNotFound,
      nonRetryable: true,
    });

    const badKey = new StripeIdentityAdapter({ secretKey: 'sk_test_wrong', apiBase: sb.baseUrl });
    const denied = await badKey.createSession(createParams).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(ApplicationFailure);
    expect(denied).toMatchObject({ type: FailureType.ProviderAuthFailed, nonRetryable: true });
    expect((denied as Error).message).toContain('HTTP 401');
  });

  test('a failed submission: processing → requires_input with last_error, a report per attempt and a fresh client secret; then verified with outputs on expand', async () => {
    sb = await startSandbox();
    const created = await sb.stripe.identity.verificationSessions.create({ type: 'document' });
    sb.emulator.submit(created.id, 'document_expired');
    expect((await sb.adapter.retrieveSession(created.id)).status).toBe('processing');
    await sb.eventFor(created.id, 'processing');
    const failed = await sb.eventFor(created.id, 'requires_input');
    const failedEvent = verifyStripeWebhook(failed.raw, sigOf(failed.raw), WEBHOOK_SECRET).event!;
    expect(failedEvent).toMatchObject({
      type: 'requires_input',
      sessionId: created.id,
      sessionStatus: 'requires_input',
      lastErrorCode: 'document_expired',
      lastErrorMessage: 'The provided identity document has expired.',
    });
    expect(failedEvent.reportId).toMatch(/^vr_/);

    const retried = await sb.stripe.identity.verificationSessions.retrieve(created.id);
    expect(retried.last_error).toEqual({
      code: 'document_expired',
      reason: 'The provided identity document has expired.',
    });
    expect(retried.client_secret).toMatch(/_secret_/);
    expect(retried.client_secret).not.toBe(created.client_secret);
    expect((await sb.adapter.clientSecret(created.id)).url).toBe(`${sb.baseUrl}/verify/${created.id}`);

    sb.emulator.submit(created.id, 'verified');
    await sb.eventFor(created.id, 'verified');
    const plain = await sb.stripe.identity.verificationSessions.retrieve(created.id);
    expect(plain.verified_outputs).toBeUndefined();
    expect(plain.client_secret).toBeNull();
    expect(plain.url).toBeNull();
    const withOutputs = await sb.adapter.retrieveSession(created.id, { expandOutputs: true });
    expect(withOutputs).toMatchObject({
      status: 'verified',
      lastErrorCode: null,
      verifiedOutputs: {
        firstName: 'Jenny',
        lastName: 'Rosen',
        dob: { year: 1990, month: 1, day: 15 },
        address: { city: 'San Francisco', country: 'US' },
      },
    });
    expect(sb.emulator.inspect.session(created.id)?.reports).toHaveLength(2);
    // dob only with its own expand, as on Stripe.
    const noDob = await sb.stripe.identity.verificationSessions.retrieve(created.id, { expand: ['verified_outputs'] });
    expect(noDob.verified_outputs?.dob).toBeUndefined();
  });

  test('consent_declined returns to requires_input at once (no processing); selfie outcomes need a selfie check', async () => {
    sb = await startSandbox();
    const session = await sb.stripe.identity.verificationSessions.create({ type: 'document' });
    expect(() => sb.emulator.submit(session.id, 'selfie_face_mismatch')).toThrow(/does not apply/);
    sb.emulator.submit(session.id, 'consent_declined');
    await sb.eventFor(session.id, 'requires_input');
    expect(sb.received.some((r) => r.event.type.endsWith('.processing'))).toBe(false);
    expect(sb.emulator.inspect.session(session.id)?.lastErrorCode).toBe('consent_declined');

    const selfie = await sb.stripe.identity.verificationSessions.create({
      type: 'document',
      options: { document: { require_matching_selfie: true } },
    });
    sb.emulator.submit(selfie.id, 'selfie_face_mismatch');
    await sb.eventFor(selfie.id, 'requires_input');
  });

  test('cancel: only from requires_input (adapter → false otherwise), with a canceled event', async () => {
    sb = await startSandbox();
    const session = await sb.adapter.createSession(createParams);
    expect(await sb.adapter.cancelSession(session.id)).toBe(true);
    await sb.eventFor(session.id, 'canceled');
    expect((await sb.adapter.retrieveSession(session.id)).status).toBe('canceled');
    expect(await sb.adapter.cancelSession(session.id)).toBe(false);
    const err = await stripeError(sb.stripe.identity.verificationSessions.cancel(session.id));
    expect(err).toMatchObject({ statusCode: 400, type: 'StripeInvalidRequestError' });

    const busy = await sb.adapter.createSession({ ...createParams, idempotencyKey: 'other' });
    sb.emulator.submit(busy.id, 'processing_then_verified');
    expect(await sb.adapter.cancelSession(busy.id)).toBe(false);
  });

  test('redact: refused while processing; a verified session gets placeholders, erased metadata and a redacted event', async () => {
    sb = await startSandbox({ processingDelayMs: 100 });
    const session = await sb.adapter.createSession(createParams);
    sb.emulator.submit(session.id, 'verified');
    await expect(sb.adapter.redactSession(session.id)).rejects.toMatchObject({
      type: FailureType.ProviderRejected,
      nonRetryable: true,
    });
    await sb.eventFor(session.id, 'verified');
    const started = await sb.adapter.redactSession(session.id);
    expect(started).toMatchObject({ status: 'verified', redactionStatus: 'processing' });
    const redactedEvent = await sb.eventFor(session.id, 'redacted');
    const object = redactedEvent.event.data.object as Stripe.Identity.VerificationSession;
    expect(object.metadata).toEqual({});
    expect(object.redaction).toEqual({ status: 'redacted' });

    const after = await sb.stripe.identity.verificationSessions.retrieve(session.id, {
      expand: ['verified_outputs', 'verified_outputs.dob'],
    });
    expect(after.metadata).toEqual({});
    expect(after.verified_outputs).toMatchObject({
      first_name: '[redacted]',
      last_name: '[redacted]',
      dob: { year: 1, month: 1, day: 1 },
      address: { line1: '[redacted]', city: '[redacted]', country: 'US' },
    });
    // Redacting again answers the same session (no second event).
    expect((await sb.adapter.redactSession(session.id)).redactionStatus).toBe('redacted');
  });

  test('redacting a session that waits on the user cancels it; a canceled session cannot be redacted', async () => {
    sb = await startSandbox();
    const waiting = await sb.adapter.createSession(createParams);
    await sb.adapter.redactSession(waiting.id);
    await sb.eventFor(waiting.id, 'canceled');
    await sb.eventFor(waiting.id, 'redacted');
    expect(sb.emulator.inspect.session(waiting.id)).toMatchObject({ status: 'canceled', redaction: 'redacted' });

    const cancelled = await sb.adapter.createSession({ ...createParams, idempotencyKey: 'second' });
    await sb.adapter.cancelSession(cancelled.id);
    await expect(sb.adapter.redactSession(cancelled.id)).rejects.toMatchObject({ type: FailureType.ProviderRejected });
  });

  test('events: retried on non-2xx; reversed order keeps the earlier created; duplicated deliveries share one id', async () => {
    sb = await startSandbox();
    const session = await sb.adapter.createSession(createParams);
    await sb.eventFor(session.id, 'created');
    sb.receiverState.failNext = 1;
    sb.emulator.submit(session.id, 'verified', { eventOrder: 'reversed', deliveries: 2 });
    await sb.eventFor(session.id, 'processing', 1); // delivered twice, after the verified ones
    const types = sb.received.filter((r) => !r.event.type.endsWith('.created')).map((r) => r.event.type.split('.')[2]);
    expect(types).toEqual(['verified', 'verified', 'verified', 'processing', 'processing']);
    const ids = new Set(sb.received.filter((r) => r.event.type.endsWith('.verified')).map((r) => r.event.id));
    expect(ids.size).toBe(1);
    const [verified] = sb.emulator.inspect.events(session.id).filter((e) => e.type.endsWith('.verified'));
    expect(verified.attempts).toEqual(['500', '200', '200']);
    const processing = sb.received.find((r) => r.event.type.endsWith('.processing'))!;
    const verifiedEvent = sb.received.find((r) => r.event.type.endsWith('.verified'))!;
    expect(processing.event.created).toBeLessThanOrEqual(verifiedEvent.event.created);
  });

  test('hosted page: lists the outcomes; a form post submits and redirects back; JSON answers errors', async () => {
    sb = await startSandbox();
    const session = await sb.adapter.createSession(createParams);
    const page = await fetch(`${sb.baseUrl}/verify/${session.id}`);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain('value="document_expired"');
    expect(html).not.toContain('value="selfie_face_mismatch"');

    const posted = await fetch(`${sb.baseUrl}/verify/${session.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'outcome=verified',
      redirect: 'manual',
    });
    expect(posted.status).toBe(303);
    expect(posted.headers.get('location')).toBe(`${sb.baseUrl}/verify/${session.id}`);
    await sb.eventFor(session.id, 'verified');

    const again = await fetch(`${sb.baseUrl}/verify/${session.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ outcome: 'verified' }),
    });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { message: string } }).error.message).toContain('verified');
    expect((await fetch(`${sb.baseUrl}/verify/vs_nope`)).status).toBe(404);
  });
});

/** A fresh valid signature for a body (the receiver already verified the original). */
function sigOf(raw: string): string {
  return Stripe.webhooks.generateTestHeaderString({ payload: raw, secret: WEBHOOK_SECRET });
}

describe('StripeIdentityAdapter error classification (a server answering like Stripe in trouble)', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  /** An adapter whose Stripe answers every request with `status` (and counts the requests). */
  const failing = async (status: number, headers: Record<string, string> = {}) => {
    const counter = { calls: 0 };
    const app = express();
    app.use((_req, res) => {
      counter.calls++;
      const type = status >= 500 ? 'api_error' : 'invalid_request_error';
      res
        .status(status)
        .set(headers)
        .json({ error: { type, message: `HTTP ${status}` } });
    });
    const server = await listen(app);
    servers.push(server);
    return { adapter: new StripeIdentityAdapter({ secretKey: SECRET_KEY, apiBase: urlOf(server) }), counter };
  };

  test('429 → retryable with Retry-After as the next delay; the SDK itself does not retry', async () => {
    const { adapter, counter } = await failing(429, { 'Retry-After': '7' });
    const err = await adapter.retrieveSession('vs_1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'ProviderUnavailable', nonRetryable: false, nextRetryDelay: 7000 });
    expect(counter.calls).toBe(1); // maxNetworkRetries 0: Temporal owns retries
  });

  test('503 → retryable with Retry-After', async () => {
    const { adapter } = await failing(503, { 'Retry-After': '2' });
    expect(await adapter.createSession(createParams).catch((e) => e)).toMatchObject({
      type: 'ProviderUnavailable',
      nonRetryable: false,
      nextRetryDelay: 2000,
    });
  });

  test('400 → InvalidProviderRequest; 403 → ProviderAuthFailed (non-retryable)', async () => {
    expect(await (await failing(400)).adapter.createSession(createParams).catch((e) => e)).toMatchObject({
      type: FailureType.InvalidProviderRequest,
      nonRetryable: true,
    });
    expect(await (await failing(403)).adapter.retrieveSession('vs_1').catch((e) => e)).toMatchObject({
      type: FailureType.ProviderAuthFailed,
      nonRetryable: true,
    });
  });

  test('nothing listening → retryable (network)', async () => {
    const down = new StripeIdentityAdapter({ secretKey: SECRET_KEY, apiBase: `http://127.0.0.1:${await freePort()}` });
    expect(await down.cancelSession('vs_1').catch((e) => e)).toMatchObject({
      type: 'ProviderUnavailable',
      nonRetryable: false,
    });
  });
});
