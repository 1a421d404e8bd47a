import { randomUUID } from 'node:crypto';
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import request from 'supertest';
import { signTwilioWebhook } from '../../providers/twilio/webhook';
import { createApi } from '../../src/app';
import { createAbuseGuard } from '../../src/auth/abuse-guard';
import type { EmulatedChallenge, WebhookDelivery } from '../../sandbox/twilio-verify-emulator';
import {
  pushEnrollmentContract,
  PUSH_ROUTING_KEY,
  type PushEnrollmentState,
  type PushVerificationState,
  SA_PROVIDER_REF,
  SA_STATUS,
} from '../../workflows/contract';
import { saveHistory } from '../support/histories';
import { freePort } from '../support/ports';
import { PushDevice } from '../support/push-device';
import { eventually, SANDBOX_AUTH, startStack, testConfig, type Stack } from '../support/stack';
import { uniqueNumber } from '../support/numbers';

/**
 * Push end to end over HTTP: REST API → Temporal (real dev server) → worker → `twilio` SDK → Verify emulator →
 * signed form-encoded webhooks → /webhooks/twilio → signals. The device is a test double doing what the sandbox
 * device page does (ES256 factor key, signed answers); SMS fallback codes come from the sandbox outbox.
 */
let stack: Stack;
let device: PushDevice;
beforeAll(async () => {
  stack = await startStack();
  device = new PushDevice(stack.baseUrl, `user-${randomUUID()}`);
  await device.enroll();
});
afterAll(async () => {
  await stack?.stop();
});

const startPush = async (body: Record<string, unknown>): Promise<PushVerificationState> => {
  const res = await stack
    .http()
    .post('/v1/verifications/push')
    .send({ identity: device.identity, message: 'Log in to Acme?', ...body });
  expect(res.status).toBe(201);
  return res.body as PushVerificationState;
};
const getState = async (id: string): Promise<PushVerificationState> => {
  const res = await stack.http().get(`/v1/verifications/${id}`);
  expect(res.status).toBe(200);
  return res.body as PushVerificationState;
};
const waitFor = (id: string, pred: (s: PushVerificationState) => boolean, timeoutMs = 30_000) =>
  eventually(async () => {
    const s = await getState(id);
    return pred(s) && s;
  }, timeoutMs);
const pendingChallenge = async (id: string) =>
  (await waitFor(id, (s) => s.status === 'action_pending' && !!s.challengeSid)).challengeSid!;
const emulatedChallenges = async (identity: string): Promise<EmulatedChallenge[]> =>
  (await stack.http().get('/sandbox/twilio/challenges').query({ identity })).body as EmulatedChallenge[];
const deliveries = async (): Promise<WebhookDelivery[]> =>
  (await stack.http().get('/sandbox/twilio/webhooks')).body as WebhookDelivery[];
/** A webhook as Twilio sends it: form-encoded, signed over the configured public URL. */
const webhook = (params: Record<string, string>, signature?: string) =>
  stack
    .anon()
    .post('/webhooks/twilio')
    .type('form')
    .set(
      'x-twilio-signature',
      signature ?? signTwilioWebhook(stack.config.twilio!.authToken, stack.config.twilio!.webhookUrl, params),
    )
    .send(new URLSearchParams(params).toString());
/** A challenge webhook as Twilio sends it, with the hidden details the run gave its challenge (its ID). */
const challengeParams = (verificationId: string, challengeSid: string, type: string): Record<string, string> => ({
  uuid: randomUUID(),
  type,
  account_sid: stack.config.twilio!.accountSid,
  service_sid: stack.config.twilio!.serviceSid,
  entity_identity: device.entityIdentity!,
  factor_sid: device.factorSid!,
  factor_type: 'push',
  challenge_sid: challengeSid,
  hidden_details: JSON.stringify({ [PUSH_ROUTING_KEY]: verificationId }),
  status: type.split('.')[1],
  date_created: new Date().toISOString(),
});

test('enrollment: the device page flow makes the identity verified (asked of the workflow, not of Twilio)', async () => {
  const enrollment = await eventually(async () => {
    const r = await stack.http().get(`/v1/push/enrollments/${device.identity}`);
    return r.status === 200 && (r.body as PushEnrollmentState).verified && (r.body as PushEnrollmentState);
  });
  expect(enrollment).toMatchObject({ status: 'verified', verified: true, factorSid: device.factorSid });
  expect(enrollment.factors).toEqual([expect.objectContaining({ sid: device.factorSid, status: 'verified' })]);
  expect((await stack.http().get(`/v1/push/enrollments/user-${randomUUID()}`)).status).toBe(404);
  // An enrollment is not a verification.
  expect((await stack.http().get(`/v1/verifications/push-enrollment-${device.identity}`)).status).toBe(404);
});

test('approved on the device → completed via the signed webhook; findable by provider ref', async () => {
  const started = await startPush({});
  expect(started.id).toMatch(/^push-sandbox-[0-9a-f]{20}$/);
  const challengeSid = await pendingChallenge(started.id);
  expect((await device.pending()).map((c) => c.sid)).toContain(challengeSid);
  await device.answer(challengeSid, 'approved');
  const done = await waitFor(started.id, (s) => s.status === 'completed');
  expect(done).toMatchObject({ reason: 'verified', factorSid: device.factorSid, resends: 0 });
  expect(JSON.stringify(done)).not.toContain(device.identity);

  const handle = stack.client.workflow.getHandle(started.id);
  const desc = await handle.describe();
  expect(desc.typedSearchAttributes.get(SA_PROVIDER_REF)).toEqual([`twilio:${challengeSid}`]);
  await eventually(async () => (await handle.describe()).typedSearchAttributes.get(SA_STATUS) === 'completed');
  await saveHistory('push-e2e-approved-routed-by-id', handle);
});

test('the challenge carries the run ID in its hidden details, and its webhook is routed by it (no lookup)', async () => {
  // No polling: only the webhook can complete it.
  const started = await startPush({ hiddenDetails: { session: 's-1' }, pollIntervalSeconds: 600 });
  const challengeSid = await pendingChallenge(started.id);
  // Nothing published while it waits: the REST start's search attributes already say it.
  const waiting = (await stack.client.workflow.getHandle(started.id).describe()).typedSearchAttributes;
  expect(waiting.get(SA_STATUS)).toBe('action_pending');
  expect(waiting.get(SA_PROVIDER_REF)).toBeUndefined();
  await device.answer(challengeSid, 'approved');
  await waitFor(started.id, (s) => s.status === 'completed');
  const sent = (await deliveries()).find((d) => d.params.challenge_sid === challengeSid)!;
  expect(JSON.parse(sent.params.hidden_details)).toEqual({ session: 's-1', [PUSH_ROUTING_KEY]: started.id });
});

test('hidden details with no room for the run ID: the challenge ref is published at once and the webhook finds it', async () => {
  const full = { note: 'x'.repeat(1024 - JSON.stringify({ note: '' }).length) };
  const started = await startPush({ hiddenDetails: full, pollIntervalSeconds: 600 });
  const challengeSid = await pendingChallenge(started.id);
  const handle = stack.client.workflow.getHandle(started.id);
  await eventually(async () =>
    (await handle.describe()).typedSearchAttributes.get(SA_PROVIDER_REF)?.includes(`twilio:${challengeSid}`),
  );
  await device.answer(challengeSid, 'approved');
  await waitFor(started.id, (s) => s.status === 'completed');
});

test('hiddenDetails may not set the key the run ID travels under: 400 naming it, nothing started', async () => {
  const res = await stack
    .http()
    .post('/v1/verifications/push')
    .send({
      identity: device.identity,
      message: 'Log in?',
      hiddenDetails: { [PUSH_ROUTING_KEY]: 'push-someone-else' },
    });
  expect(res.status).toBe(400);
  expect(JSON.stringify(res.body)).toContain('hiddenDetails');
  expect(JSON.stringify(res.body)).toContain(PUSH_ROUTING_KEY);
});

test('denied on the device → failed / user_denied (no fallback by default)', async () => {
  const started = await startPush({
    fallback: { to: uniqueNumber('+1415555'), brand: 'Acme', channels: [{ channel: 'sms' }] },
  });
  const challengeSid = await pendingChallenge(started.id);
  await device.answer(challengeSid, 'denied');
  const done = await waitFor(started.id, (s) => s.status === 'failed');
  expect(done).toMatchObject({ reason: 'user_denied' });
  expect(done.fallbackId).toBeUndefined();
});

test('unanswered until expiry → SMS fallback; the outbox code completes it', async () => {
  const to = uniqueNumber('+1415555');
  const started = await startPush({
    expirySeconds: 4,
    fallback: { to, brand: 'Acme', channels: [{ channel: 'sms' }] },
  });
  await pendingChallenge(started.id);
  const falling = await waitFor(started.id, (s) => !!s.fallbackId);
  expect(falling).toMatchObject({ status: 'pending', pushReason: 'expired' });
  expect(falling.fallbackId).toBe(`phone-${started.id.slice('push-'.length)}`);
  const code = await eventually(async () => {
    const res = await stack.http().get('/sandbox/outbox').query({ to });
    return (res.body as { channel: string; code: string }[]).filter((e) => e.channel === 'sms').pop()?.code;
  });
  const check = await stack.http().post(`/v1/verifications/${falling.fallbackId}/check`).send({ code });
  expect(check.body).toMatchObject({ status: 'completed' });
  const done = await waitFor(started.id, (s) => s.status === 'completed');
  expect(done).toMatchObject({ reason: 'verified', pushReason: 'expired', fallbackId: falling.fallbackId });
  await saveHistory('push-e2e-expired-sms-fallback', stack.client.workflow.getHandle(started.id));
});

test('resend: the emulator records one challenge and a notification for it, never a second challenge', async () => {
  const before = (await emulatedChallenges(device.entityIdentity!)).length;
  const started = await startPush({ resendAfterSeconds: 1, expirySeconds: 60 });
  const challengeSid = await pendingChallenge(started.id);
  await waitFor(started.id, (s) => s.resends >= 1);
  const challenges = await emulatedChallenges(device.entityIdentity!);
  expect(challenges).toHaveLength(before + 1);
  const mine = challenges.find((c) => c.sid === challengeSid)!;
  expect(mine.notifications.length).toBeGreaterThanOrEqual(1);
  expect(mine.sends).toBe(mine.notifications.length + 1);
  await device.answer(challengeSid, 'approved');
  await waitFor(started.id, (s) => s.status === 'completed');
  expect((await emulatedChallenges(device.entityIdentity!)).filter((c) => c.sid === challengeSid)).toHaveLength(1);
});

test('no webhooks at all: the workflow polls the challenge and completes', async () => {
  await stack.http().post('/sandbox/twilio/settings').send({ webhooks: false }).expect(200);
  try {
    const started = await startPush({ pollIntervalSeconds: 1, expirySeconds: 60 });
    const challengeSid = await pendingChallenge(started.id);
    await device.answer(challengeSid, 'approved');
    const done = await waitFor(started.id, (s) => s.status === 'completed');
    expect(done.reason).toBe('verified');
    expect((await deliveries()).some((d) => d.params.challenge_sid === challengeSid)).toBe(false);
  } finally {
    await stack.http().post('/sandbox/twilio/settings').send({ webhooks: true }).expect(200);
  }
});

test('forged signature → 403 and nothing signalled; the same event correctly signed is delivered', async () => {
  const started = await startPush({ expirySeconds: 60 });
  const challengeSid = await pendingChallenge(started.id);
  const params = challengeParams(started.id, challengeSid, 'challenge.approved');
  const forged = signTwilioWebhook('some-other-auth-token-0000000', stack.config.twilio!.webhookUrl, params);
  expect((await webhook(params, forged)).status).toBe(403);
  expect((await webhook(params, '')).status).toBe(403);
  // Signed for another URL than the configured one (a replay to another endpoint).
  const otherUrl = signTwilioWebhook(stack.config.twilio!.authToken, `${stack.baseUrl}/webhooks/other`, params);
  expect((await webhook(params, otherUrl)).status).toBe(403);
  // Swapped body under a valid signature.
  const signature = signTwilioWebhook(stack.config.twilio!.authToken, stack.config.twilio!.webhookUrl, params);
  expect((await webhook({ ...params, type: 'challenge.denied' }, signature)).status).toBe(403);
  await new Promise((r) => setTimeout(r, 500));
  expect((await getState(started.id)).status).toBe('action_pending');

  const ok = await webhook(params, signature);
  expect(ok.status).toBe(200);
  expect(ok.body).toEqual({ ok: true, delivered: true });
  await waitFor(started.id, (s) => s.status === 'completed');
});

test('__proto__, constructor and prototype parameters are plain parameters: signed over, never a prototype', async () => {
  const started = await startPush({ expirySeconds: 60 });
  const challengeSid = await pendingChallenge(started.id);
  // JSON.parse makes `__proto__` an own key, as a form body does for the parser.
  const params: Record<string, string> = {
    ...JSON.parse('{"__proto__":"polluted","constructor":"polluted","prototype":"polluted"}'),
    ...challengeParams(started.id, challengeSid, 'challenge.approved'),
  };
  expect(Object.keys(params)).toEqual(expect.arrayContaining(['__proto__', 'constructor', 'prototype']));
  const body = Object.entries(params)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  const post = (signature: string) =>
    stack.http().post('/webhooks/twilio').type('form').set('x-twilio-signature', signature).send(body);
  // Signed without the extra keys: they are part of what Twilio signs, so the signature no longer matches.
  const { __proto__: _p, constructor: _c, prototype: _t, ...real } = params;
  const partial = signTwilioWebhook(stack.config.twilio!.authToken, stack.config.twilio!.webhookUrl, real);
  expect((await post(partial)).status).toBe(403);
  const signature = signTwilioWebhook(stack.config.twilio!.authToken, stack.config.twilio!.webhookUrl, params);
  const ok = await post(signature);
  expect(ok.status).toBe(200);
  expect(ok.body).toEqual({ ok: true, delivered: true });
  await waitFor(started.id, (s) => s.status === 'completed');
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

test('duplicate webhooks: a replayed factor.verified changes nothing; a replay after the end is acknowledged', async () => {
  const verified = (await deliveries()).find(
    (d) => d.params.type === 'factor.verified' && d.params.entity_identity === device.entityIdentity,
  )!;
  expect(verified).toBeDefined();
  const before = (await stack.http().get(`/v1/push/enrollments/${device.identity}`)).body as PushEnrollmentState;
  const enrollment = stack.client.workflow.getHandle(pushEnrollmentContract.id(device.entityIdentity!));
  const signals = async () => {
    const history = await enrollment.fetchHistory();
    return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes).length;
  };
  const { runId } = await enrollment.describe();
  const signalsBefore = await signals();
  for (let i = 0; i < 2; i++) {
    const res = await webhook(verified.params, verified.signature);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true, delivered: true });
  }
  const after = (await stack.http().get(`/v1/push/enrollments/${device.identity}`)).body as PushEnrollmentState;
  expect(after).toEqual(before);
  // Dropped by the server (the signal's request ID is derived from the event): not even a history event.
  expect((await enrollment.describe()).runId).toBe(runId);
  expect(await signals()).toBe(signalsBefore);

  const started = await startPush({});
  const challengeSid = await pendingChallenge(started.id);
  await device.answer(challengeSid, 'approved');
  const done = await waitFor(started.id, (s) => s.status === 'completed');
  const approved = await eventually(async () =>
    (await deliveries()).find((d) => d.params.challenge_sid === challengeSid && d.params.type === 'challenge.approved'),
  );
  const again = await webhook(approved.params, approved.signature);
  expect(again.status).toBe(200);
  expect(await getState(started.id)).toEqual(done);
});

test('2FA takeover replayed: a second device enrolled for the identity gets no challenge until approved', async () => {
  // The victim's device is enrolled and approved (first factor). An attacker who got the platform to broker a token
  // for the same identity (e.g. signed in with a stolen password) enrolls a device of their own and verifies it.
  const victim = new PushDevice(stack.baseUrl, `user-${randomUUID()}`);
  await victim.enroll();
  const attacker = new PushDevice(stack.baseUrl, victim.identity);
  await attacker.enroll();
  const enrollment = await eventually(async () => {
    const e = (await stack.http().get(`/v1/push/enrollments/${victim.identity}`)).body as PushEnrollmentState;
    return e.factors?.length === 2 && e.factors.every((f) => f.status !== 'unverified') && e;
  });
  expect(enrollment.factors.find((f) => f.sid === victim.factorSid)).toMatchObject({ status: 'verified' });
  expect(enrollment.factors.find((f) => f.sid === attacker.factorSid)).toMatchObject({ status: 'pending_approval' });
  expect(enrollment.factorSid).toBe(victim.factorSid);

  // The next challenge goes to the victim's device, not to the newest factor; the attacker's device sees nothing.
  const login = await startPush({ identity: victim.identity, expirySeconds: 60 });
  const challengeSid = await pendingChallenge(login.id);
  expect((await getState(login.id)).factorSid).toBe(victim.factorSid);
  expect((await attacker.pending()).map((c) => c.sid)).not.toContain(challengeSid);
  await expect(attacker.answer(challengeSid, 'approved')).rejects.toThrow(/HTTP 4\d\d/);
  expect((await getState(login.id)).status).toBe('action_pending');
  await stack.http().post(`/v1/verifications/${login.id}/cancel`).send({});
  // Naming the attacker's factor explicitly does not help either: it is not approved.
  const direct = await startPush({ identity: victim.identity, factorSid: attacker.factorSid });
  expect(await waitFor(direct.id, (s) => s.status === 'failed')).toMatchObject({ reason: 'no_verified_factor' });

  // The legitimate path: a push approved on the existing device approves the new factor, once.
  const newDevice = attacker; // (the same mechanics serve a user's own second phone)
  const approval = await startPush({ identity: victim.identity, message: 'Approve your new device?' });
  await victim.answer(await pendingChallenge(approval.id), 'approved');
  await waitFor(approval.id, (s) => s.status === 'completed');
  const approve = (factorSid: string, verificationId: string) =>
    stack.http().post(`/v1/push/enrollments/${victim.identity}/factors/${factorSid}/approve`).send({ verificationId });
  const approved = await approve(newDevice.factorSid!, approval.id);
  expect(approved.status).toBe(200);
  expect((approved.body as PushEnrollmentState).factors.find((f) => f.sid === newDevice.factorSid)).toMatchObject({
    status: 'verified',
    approvedBy: approval.id,
  });
  expect((await approve(newDevice.factorSid!, approval.id)).status).toBe(409);
  // A third device: the push approval already used approves nothing more; a fresh phone step-up does.
  const third = new PushDevice(stack.baseUrl, victim.identity);
  await third.enroll();
  await eventually(async () => {
    const e = (await stack.http().get(`/v1/push/enrollments/${victim.identity}`)).body as PushEnrollmentState;
    return e.factors.find((f) => f.sid === third.factorSid)?.status === 'pending_approval';
  });
  expect((await approve(third.factorSid!, approval.id)).status).toBe(409);
  const to = uniqueNumber('+1415555');
  const phone = await stack
    .http()
    .post('/v1/verifications/phone')
    .send({ to, brand: 'Acme', channels: [{ channel: 'sms' }] });
  const code = await eventually(async () => {
    const res = await stack.http().get('/sandbox/outbox').query({ to });
    return (res.body as { channel: string; code: string }[]).filter((e) => e.channel === 'sms').pop()?.code;
  });
  expect((await approve(third.factorSid!, phone.body.id)).status).toBe(409); // not completed yet
  await stack.http().post(`/v1/verifications/${phone.body.id}/check`).send({ code });
  expect((await approve(third.factorSid!, phone.body.id)).status).toBe(200);
});

test('access tokens and enrollments need a client credential', async () => {
  expect((await stack.anon().post('/v1/push/access-tokens').send({ identity: device.identity })).status).toBe(401);
  expect((await stack.anon().get(`/v1/push/enrollments/${device.identity}`)).status).toBe(401);
});

test('cancel over the generic REST route; GET works by ID for push', async () => {
  const started = await startPush({ expirySeconds: 60 });
  await pendingChallenge(started.id);
  const res = await stack.http().post(`/v1/verifications/${started.id}/cancel`).send({ reason: 'changed my mind' });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ id: started.id, kind: 'push', status: 'cancelled', reason: 'cancelled' });
  expect(await getState(started.id)).toMatchObject({ status: 'cancelled' });
});

test('an identity that looks like a phone number or an e-mail address → 400 naming the field', async () => {
  for (const identity of ['+14155550100', '14155550100', '415-555-0100', 'someone@example.com']) {
    const token = await stack.http().post('/v1/push/access-tokens').send({ identity });
    expect(token.status).toBe(400);
    expect(token.body.message).toMatch(/^identity: must not be (a phone number|an e-mail address)/);
    const start = await stack.http().post('/v1/verifications/push').send({ identity, message: 'hi' });
    expect(start.status).toBe(400);
    expect(start.body.message).toMatch(/identity: must not be/);
  }
  expect((await stack.http().get('/v1/push/enrollments/+14155550100')).status).toBe(400);
  const short = await stack.http().post('/v1/push/access-tokens').send({ identity: 'abc' });
  expect(short.body.message).toMatch(/identity: must be 8-64 characters/);
  const long = await stack
    .http()
    .post('/v1/verifications/push')
    .send({ identity: device.identity, message: 'x'.repeat(257) });
  expect(long.status).toBe(400);
  expect(long.body.message).toMatch(/^message: /);
});

test('Temporal unreachable → 503 for webhooks and access tokens, so Twilio and the device retry', async () => {
  const port = await freePort();
  const config = testConfig(port);
  // Nothing listens there; one attempt per call keeps the test short (the default client retries for ~40 s).
  const connection = Connection.lazy({
    address: `127.0.0.1:${await freePort()}`,
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 1 }))],
  });
  const client = new Client({ connection });
  const api = await createApi(config, client, createAbuseGuard(config.limits), { logger: false });
  await api.app.init();
  try {
    const params = {
      uuid: randomUUID(),
      type: 'factor.created',
      account_sid: config.twilio!.accountSid,
      service_sid: config.twilio!.serviceSid,
      entity_identity: device.entityIdentity!,
      factor_sid: device.factorSid!,
      factor_type: 'push',
    };
    const res = await request(api.app.getHttpServer())
      .post('/webhooks/twilio')
      .type('form')
      .set('x-twilio-signature', signTwilioWebhook(config.twilio!.authToken, config.twilio!.webhookUrl, params))
      .send(new URLSearchParams(params).toString());
    expect(res.status).toBe(503);
    const token = await request(api.app.getHttpServer())
      .post('/v1/push/access-tokens')
      .set('Authorization', SANDBOX_AUTH)
      .send({ identity: device.identity });
    expect(token.status).toBe(503);
  } finally {
    api.sandbox?.close();
    await api.app.close();
    await client.connection.close();
  }
});
