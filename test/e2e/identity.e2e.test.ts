import { randomUUID } from 'node:crypto';
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import request from 'supertest';
import Stripe from 'stripe';
import { createApi } from '../../src/app';
import { createAbuseGuard } from '../../src/auth/abuse-guard';
import {
  identityRedactionContract,
  type IdentityRedactionInfo,
  type IdentityRedactionState,
  type IdentityVerificationResult,
  type IdentityVerificationState,
  SA_PROVIDER_REF,
  SA_STATUS,
} from '../../workflows/contract';
import { saveHistory } from '../support/histories';
import { freePort } from '../support/ports';
import { eventually, startStack, testConfig, type Stack } from '../support/stack';

/**
 * Identity end to end over HTTP: REST API → Temporal (real dev server) → worker → `stripe` SDK → Stripe Identity
 * emulator → signed events → /webhooks/stripe → signals. The person's choices go through the sandbox's hosted page,
 * as a browser would post them.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const reference = () => `user-${randomUUID().slice(0, 12)}`;
const start = async (body: Record<string, unknown>): Promise<IdentityVerificationState> => {
  const res = await stack
    .http()
    .post('/v1/verifications/identity')
    .send({ type: 'document', reference: reference(), ...body });
  expect(res.status).toBe(201);
  return res.body as IdentityVerificationState;
};
const getState = async (id: string): Promise<IdentityVerificationState> => {
  const res = await stack.http().get(`/v1/verifications/${id}`);
  expect(res.status).toBe(200);
  return res.body as IdentityVerificationState;
};
const waitFor = (id: string, pred: (s: IdentityVerificationState) => boolean) =>
  eventually(async () => {
    const s = await getState(id);
    return pred(s) && s;
  }, 30_000);
const clientSecret = async (id: string): Promise<{ client_secret: string; url: string }> => {
  const res = await stack.http().post(`/v1/verifications/${id}/client-secret`);
  expect(res.status).toBe(200);
  expect(res.headers['cache-control']).toBe('no-store');
  return res.body as { client_secret: string; url: string };
};
/** What a person does on the sandbox's hosted page: pick an outcome (a form post, answered with a redirect). */
const choose = async (url: string, outcome: string) => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ outcome }).toString(),
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
};
const emulator = () => stack.sandbox!.stripe!;

/** A Stripe event for a session, signed with `secret` at `timestamp` (seconds). */
function signedEvent(
  sessionId: string,
  workflowId: string,
  opts: { secret?: string; timestamp?: number; type?: string } = {},
) {
  const raw = JSON.stringify({
    id: `evt_${randomUUID().replace(/-/g, '')}`,
    object: 'event',
    created: Math.floor(Date.now() / 1000) + 60,
    livemode: false,
    type: `identity.verification_session.${opts.type ?? 'requires_input'}`,
    data: {
      object: {
        id: sessionId,
        object: 'identity.verification_session',
        status: 'requires_input',
        last_error: { code: 'consent_declined', reason: 'The user declined to be verified by Stripe.' },
        last_verification_report: `vr_forged_${randomUUID().slice(0, 8)}`,
        metadata: { workflow_id: workflowId },
        redaction: null,
      },
    },
  });
  const header = Stripe.webhooks.generateTestHeaderString({
    payload: raw,
    secret: opts.secret ?? stack.config.stripe!.webhookSecret,
    ...(opts.timestamp ? { timestamp: opts.timestamp } : {}),
  });
  return { raw, header };
}
const postWebhook = (raw: string, header?: string) => {
  const req = stack.anon().post('/webhooks/stripe').set('content-type', 'application/json');
  return (header ? req.set('stripe-signature', header) : req).send(raw);
};

test('done-when: start, client secret, hosted page → document_expired, then verified on the same session → completed with outputs', async () => {
  const started = await start({ options: { allowedTypes: ['passport', 'driving_license'] } });
  expect(started.id).toMatch(/^identity-sandbox-user-/);
  expect(started.kind).toBe('identity');

  const first = await clientSecret(started.id);
  const state = await getState(started.id);
  expect(state.status).toBe('action_pending');
  expect(first.client_secret).toMatch(new RegExp(`^${state.sessionId}_secret_`));
  expect(first.url).toBe(`${stack.baseUrl}/sandbox/stripe/verify/${state.sessionId}`);
  // The client secret never reaches Temporal: not in the state, not in the history.
  expect(JSON.stringify(state)).not.toContain('_secret_');

  const page = await fetch(first.url);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('value="document_expired"');
  await choose(first.url, 'document_expired');
  const retrying = await waitFor(started.id, (s) => s.attempts === 1 && s.status === 'action_pending');
  expect(retrying).toMatchObject({ lastError: { code: 'document_expired' }, sessionId: state.sessionId });

  const second = await clientSecret(started.id);
  expect(second.client_secret).not.toBe(first.client_secret);
  expect(second.url).toBe(first.url); // the same session
  await choose(second.url, 'verified');
  const done = await waitFor(started.id, (s) => s.status === 'completed');
  expect(done).toMatchObject({ reason: 'verified', attempts: 1, sessionStatus: 'verified' });
  expect(JSON.stringify(done)).not.toContain('Rosen'); // outputs only in the result

  const handle = stack.client.workflow.getHandle(started.id);
  const result = (await handle.result()) as IdentityVerificationResult;
  expect(result.verifiedOutputs).toMatchObject({ firstName: 'Jenny', lastName: 'Rosen', dob: { year: 1990 } });
  expect(
    emulator()
      .inspect.sessions()
      .filter((s) => s.metadata.workflow_id === started.id),
  ).toHaveLength(1);
  const history = JSON.stringify(await handle.fetchHistory());
  expect(history).not.toContain('_secret_');
  const desc = await handle.describe();
  expect(desc.typedSearchAttributes.get(SA_STATUS)).toBe('completed');
  expect(desc.typedSearchAttributes.get(SA_PROVIDER_REF)).toEqual([`stripe:${state.sessionId}`]);
  await saveHistory('identity-e2e-retry-then-verified-fewer-actions', handle);
});

test('forged, stale and missing signatures → 400 and nothing signalled; a good one is accepted', async () => {
  const started = await start({});
  const { sessionId } = await waitFor(started.id, (s) => !!s.sessionId && s.status === 'action_pending');
  const forged = signedEvent(sessionId!, started.id, { secret: 'whsec_not_ours' });
  expect((await postWebhook(forged.raw, forged.header)).status).toBe(400);
  const stale = signedEvent(sessionId!, started.id, { timestamp: Math.floor(Date.now() / 1000) - 600 });
  expect((await postWebhook(stale.raw, stale.header)).status).toBe(400);
  expect((await postWebhook(stale.raw)).status).toBe(400);
  const future = signedEvent(sessionId!, started.id, { timestamp: Math.floor(Date.now() / 1000) + 600 });
  expect((await postWebhook(future.raw, future.header)).status).toBe(400);
  // Correctly signed but not a VerificationSession event: a JSON array → 400; another object type → acknowledged only.
  const sign = (raw: string) =>
    Stripe.webhooks.generateTestHeaderString({ payload: raw, secret: stack.config.stripe!.webhookSecret });
  expect((await postWebhook('[1,2]', sign('[1,2]'))).status).toBe(400);
  const charge = JSON.parse(signedEvent(sessionId!, started.id).raw) as { data: { object: Record<string, unknown> } };
  charge.data.object.object = 'charge';
  const chargeRaw = JSON.stringify(charge);
  const ignored = await postWebhook(chargeRaw, sign(chargeRaw));
  expect(ignored.status).toBe(200);
  expect(ignored.body).toEqual({ received: true, delivered: false });
  // A body swapped under a valid signature of another body.
  const other = signedEvent(sessionId!, started.id);
  expect((await postWebhook(forged.raw, other.header)).status).toBe(400);

  const state = await getState(started.id);
  expect(state).toMatchObject({ status: 'action_pending', attempts: 0 });
  expect(state.lastError).toBeUndefined();

  // The same event correctly signed is a real Stripe event: it routes by metadata and ends the verification.
  const good = signedEvent(sessionId!, started.id);
  const accepted = await postWebhook(good.raw, good.header);
  expect(accepted.status).toBe(200);
  expect(accepted.body).toEqual({ received: true, delivered: true });
  const failed = await waitFor(started.id, (s) => s.status === 'failed');
  expect(failed.reason).toBe('consent_declined');
});

test('a signed `created` event is acknowledged and not signalled (the workflow learns nothing from it)', async () => {
  const started = await start({});
  const { sessionId } = await waitFor(started.id, (s) => !!s.sessionId && s.status === 'action_pending');
  const created = signedEvent(sessionId!, started.id, { type: 'created' });
  const res = await postWebhook(created.raw, created.header);
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ received: true, delivered: false });
  const history = await stack.client.workflow.getHandle(started.id).fetchHistory();
  expect(history.events?.filter((e) => e.workflowExecutionSignaledEventAttributes)).toEqual([]);
});

test('terminal code from the hosted page (consent_declined) → failed at once; the session is cancelled at Stripe', async () => {
  const started = await start({});
  const { url } = await clientSecret(started.id);
  await choose(url, 'consent_declined');
  const done = await waitFor(started.id, (s) => s.status === 'failed');
  expect(done).toMatchObject({ reason: 'consent_declined', attempts: 1 });
  await eventually(() => emulator().inspect.session(done.sessionId!)?.status === 'canceled');
  const again = await stack.http().post(`/v1/verifications/${started.id}/client-secret`);
  expect(again.status).toBe(409);
});

test('events delivered out of order and three times each still complete once', async () => {
  const started = await start({});
  const { sessionId } = await waitFor(started.id, (s) => !!s.sessionId);
  const res = await fetch(`${stack.baseUrl}/sandbox/stripe/verify/${sessionId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ outcome: 'verified', eventOrder: 'reversed', deliveries: 3 }),
  });
  expect(res.status).toBe(200);
  const done = await waitFor(started.id, (s) => s.status === 'completed');
  expect(done.attempts).toBe(0);
});

test('cancel over REST cancels the Stripe session; the client secret is then refused', async () => {
  const started = await start({});
  const { sessionId } = await waitFor(started.id, (s) => !!s.sessionId);
  const res = await stack.http().post(`/v1/verifications/${started.id}/cancel`).send({});
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ status: 'cancelled', reason: 'cancelled', sessionStatus: 'canceled' });
  expect(emulator().inspect.session(sessionId!)?.status).toBe('canceled');
  expect((await stack.http().post(`/v1/verifications/${started.id}/client-secret`)).status).toBe(409);
  expect((await stack.http().post(`/v1/verifications/${started.id}/cancel`).send({})).status).toBe(409);
});

test('redact over REST after completion: a redaction workflow redacts the session and ends on the redacted event', async () => {
  const started = await start({});
  const { url } = await clientSecret(started.id);
  await choose(url, 'verified');
  const done = await waitFor(started.id, (s) => s.status === 'completed');
  const res = await stack.http().post(`/v1/verifications/${started.id}/redact`).send({});
  expect(res.status).toBe(200);
  expect(res.body as IdentityRedactionInfo).toMatchObject({
    workflowId: identityRedactionContract.id(done.sessionId!),
  });
  const redaction = await eventually(async () => {
    const r = await stack.http().get(`/v1/verifications/${started.id}/redaction`);
    return r.status === 200 && (r.body as IdentityRedactionState).status === 'redacted' && r.body;
  }, 30_000);
  expect(redaction).toMatchObject({ sessionId: done.sessionId, verificationId: started.id });
  expect(emulator().inspect.session(done.sessionId!)).toMatchObject({ redaction: 'redacted', metadata: {} });
});

test('redactAfterSeconds: the result comes first, the session is redacted later by the child', async () => {
  const started = await start({ redactAfterSeconds: 1 });
  const { url } = await clientSecret(started.id);
  await choose(url, 'verified');
  const done = await waitFor(started.id, (s) => s.status === 'completed');
  expect(done.redaction).toMatchObject({
    status: 'scheduled',
    workflowId: identityRedactionContract.id(done.sessionId!),
  });
  const child = stack.client.workflow.getHandle(identityRedactionContract.id(done.sessionId!));
  expect(await child.result()).toMatchObject({ status: 'redacted' });
  expect(emulator().inspect.session(done.sessionId!)?.redaction).toBe('redacted');
});

test('bad input → 400 naming the field; unknown ids → 404; a repeated start joins the running verification', async () => {
  const bad = await stack
    .http()
    .post('/v1/verifications/identity')
    .send({ reference: 'jenny@example.com', type: 'passport' });
  expect(bad.status).toBe(400);
  expect(bad.body.message).toContain('reference: ');
  expect(bad.body.message).toContain('type: ');
  expect((await stack.http().post('/v1/verifications/identity-nobody-here/client-secret')).status).toBe(404);
  expect((await stack.http().post('/v1/verifications/phone-abc/client-secret')).status).toBe(404);

  const ref = reference();
  const first = await start({ reference: ref });
  const second = await start({ reference: ref });
  expect(second.id).toBe(first.id);
  await waitFor(first.id, (s) => !!s.sessionId);
  expect(
    emulator()
      .inspect.sessions()
      .filter((s) => s.metadata.workflow_id === first.id),
  ).toHaveLength(1);
  await stack.http().post(`/v1/verifications/${first.id}/cancel`).send({});
});

test('Temporal unreachable → 503 for the webhook, so Stripe retries', async () => {
  const port = await freePort();
  const config = testConfig(port);
  const connection = Connection.lazy({
    address: `127.0.0.1:${await freePort()}`,
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 1 }))],
  });
  const client = new Client({ connection });
  const api = await createApi(config, client, createAbuseGuard(config.limits), { logger: false });
  await api.app.init();
  try {
    const { raw, header } = signedEvent('vs_unreachable', 'identity-unreachable');
    const res = await request(api.app.getHttpServer())
      .post('/webhooks/stripe')
      .set('content-type', 'application/json')
      .set('stripe-signature', header)
      .send(raw);
    expect(res.status).toBe(503);
  } finally {
    api.sandbox?.close();
    await api.app.close();
    await client.connection.close();
  }
});
