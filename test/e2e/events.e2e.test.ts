import { Webhook } from 'standardwebhooks';
import type { ReceivedEvent } from '../../sandbox/events-receiver';
import { SANDBOX_EVENTS_SECRET } from '../../src/config/auth-config';
import type { EventDeliveryState, PhoneVerificationState } from '../../workflows/contract';
import { eventually, startStack, type Stack } from '../support/stack';
import { uniqueNumber } from '../support/numbers';

/**
 * Outbound events through the whole system: REST start → verification workflow → eventDelivery → signed POST →
 * the sandbox receiver (/sandbox/events), which verifies each with the `standardwebhooks` library; the client reads
 * the delivery status at GET /v1/events and asks for redelivery. SANDBOX_EVENTS=true gives the sandbox test client
 * its events endpoint.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ SANDBOX_EVENTS: 'true' });
});
afterAll(async () => {
  await stack?.stop();
});

const startPhone = async (to: string): Promise<PhoneVerificationState> => {
  const res = await stack
    .http()
    .post('/v1/verifications/phone')
    .send({ to, brand: 'Acme', channels: [{ channel: 'sms' }] });
  expect(res.status).toBe(201);
  return res.body as PhoneVerificationState;
};
const outboxCode = (to: string) =>
  eventually(async () => {
    const res = await stack.http().get('/sandbox/outbox').query({ to });
    return (res.body as { code: string }[]).pop()?.code;
  });
const received = async (verificationId: string): Promise<ReceivedEvent[]> =>
  (await stack.anon().get('/sandbox/events').query({ verificationId })).body as ReceivedEvent[];
/** GET /v1/events once `count` events are there and none is pending. */
const settled = (verificationId: string, count: number) =>
  eventually(async () => {
    const res = await stack.http().get('/v1/events').query({ verificationId });
    const s = res.body as EventDeliveryState;
    return res.status === 200 && s.events.length === count && s.events.every((e) => e.status !== 'pending') && s;
  }, 50_000);

/** GET /v1/events once the last event is `type` and none is pending. */
const ended = (verificationId: string, type: string) =>
  eventually(async () => {
    const s = (await stack.http().get('/v1/events').query({ verificationId })).body as EventDeliveryState;
    return s.events?.at(-1)?.type === type && s.events.every((e) => e.status !== 'pending') && s;
  }, 50_000);

test('a completed verification: its events arrive signed, verify with the library, and can be redelivered', async () => {
  const to = uniqueNumber('+1415557');
  const started = await startPhone(to);
  const check = await stack
    .http()
    .post(`/v1/verifications/${started.id}/check`)
    .send({ code: await outboxCode(to) });
  expect(check.body).toMatchObject({ status: 'completed' });

  const state = await settled(started.id, 2);
  expect(state.events.map((e) => [e.type, e.status])).toEqual([
    ['verification.created', 'delivered'],
    ['verification.completed', 'delivered'],
  ]);
  const got = await received(started.id);
  expect(got.map((r) => [r.verified, r.webhookId, r.event?.type])).toEqual(
    state.events.map((e) => [true, e.id, e.type]),
  );
  expect(got[1].event?.data).toMatchObject({ verificationId: started.id, status: 'completed', reason: 'verified' });
  expect(JSON.stringify(got)).not.toContain(to.slice(1));

  // Any Standard Webhooks receiver verifies what we send; a tampered body does not.
  const { id, event } = state.events[1];
  const body = JSON.stringify(event);
  const at = new Date();
  const headers = {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(SANDBOX_EVENTS_SECRET).sign(id, at, body),
  };
  const forged = await stack
    .anon()
    .post('/sandbox/events')
    .set(headers)
    .set('content-type', 'application/json')
    .send(body.replace('verified', 'tampered'));
  expect(forged.status).toBe(401);

  const again = await stack.http().post(`/v1/events/${encodeURIComponent(id)}/redeliver`);
  expect(again.status).toBe(202);
  expect(again.body).toMatchObject({ id, status: 'pending', redeliveries: 1 });
  const redelivered = await eventually(async () => {
    const all = (await received(started.id)).filter((r) => r.webhookId === id);
    return all.length === 3 && all;
  });
  // Delivered, the forgery (refused), redelivered.
  expect(redelivered.map((r) => [r.verified, r.answered])).toEqual([
    [true, 204],
    [false, 401],
    [true, 204],
  ]);

  expect(
    (await stack.http().post(`/v1/events/${encodeURIComponent(`${started.id}~00000000~7`)}/redeliver`)).status,
  ).toBe(404);
  expect((await stack.http().get('/v1/events')).status).toBe(400);
});

test('a failed and a cancelled verification announce how they ended', async () => {
  const failing = uniqueNumber('+1415557');
  const failed = await startPhone(failing);
  await outboxCode(failing);
  for (let i = 0; i < 5; i++) await stack.http().post(`/v1/verifications/${failed.id}/check`).send({ code: '0000000' });
  const cancelling = uniqueNumber('+1415557');
  const cancelled = await startPhone(cancelling);
  await outboxCode(cancelling);
  expect((await stack.http().post(`/v1/verifications/${cancelled.id}/cancel`).send({})).status).toBe(200);

  const f = await settled(failed.id, 2);
  expect(f.events[1]).toMatchObject({ type: 'verification.failed', status: 'delivered' });
  expect(f.events[1].event.data).toMatchObject({ status: 'failed', reason: 'max_attempts' });
  const c = await settled(cancelled.id, 2);
  expect(c.events[1]).toMatchObject({ type: 'verification.cancelled', status: 'delivered' });
  for (const id of [failed.id, cancelled.id]) {
    expect((await received(id)).map((r) => r.verified)).toEqual([true, true]);
  }
});

test('the receiver down, then answering 500: the event is retried with the same webhook-id until it is taken', async () => {
  // The next delivery finds the connection dropped, the one after gets a 500; the third is verified and taken.
  const fail = (status: number, count: number) =>
    stack.anon().post('/sandbox/events/fail').send({ status, count }).expect(200);
  await fail(0, 1);
  const to = uniqueNumber('+1415557');
  const started = await startPhone(to);
  await eventually(async () => (await received(started.id)).length === 1);
  await fail(500, 1);
  const state = await settled(started.id, 1);
  expect(state.events[0]).toMatchObject({ type: 'verification.created', status: 'delivered', attempts: 3 });
  const got = await received(started.id);
  expect(got.map((r) => [r.answered, r.webhookId])).toEqual([
    [0, state.events[0].id],
    [500, state.events[0].id],
    [204, state.events[0].id],
  ]);
  await stack.http().post(`/v1/verifications/${started.id}/cancel`).send({});
}, 90_000);

test('identity and push verifications and onboardings send theirs too (onboarding.* for an onboarding)', async () => {
  const identity = await stack
    .http()
    .post('/v1/verifications/identity')
    .send({ reference: `user-${Date.now()}`, type: 'document' });
  expect(identity.status).toBe(201);
  const onboarding = await stack
    .http()
    .post('/v1/onboardings')
    .send({
      reference: `user-${Date.now()}`,
      phone: { to: uniqueNumber('+1415557'), brand: 'Acme', channels: [{ channel: 'sms' }] },
      identity: { type: 'document' },
    });
  expect(onboarding.status).toBe(201);
  for (const path of [`/v1/verifications/${identity.body.id}/cancel`, `/v1/onboardings/${onboarding.body.id}/cancel`]) {
    expect((await stack.http().post(path).send({})).status).toBe(200);
  }
  // Created, action_pending while the user has something to do (when the run got there first), cancelled.
  const i = await ended(identity.body.id, 'verification.cancelled');
  expect(i.events[0].type).toBe('verification.created');
  expect(i.events.map((e) => [e.status, e.event.data.kind, e.event.data.provider])).toEqual(
    i.events.map(() => ['delivered', 'identity', 'stripe']),
  );
  const o = await ended(onboarding.body.id, 'onboarding.cancelled');
  expect(o.events[0].type).toBe('onboarding.created');
  expect(o.events.every((e) => e.status === 'delivered' && e.type.startsWith('onboarding.'))).toBe(true);
  // A push verification for an identity without a device (and no fallback) fails: no_verified_factor.
  const push = await stack
    .http()
    .post('/v1/verifications/push')
    .send({ identity: `user-${Date.now()}`, message: 'Log in?' });
  expect(push.status).toBe(201);
  const p = await ended(push.body.id, 'verification.failed');
  expect(p.events.map((e) => e.type)).toEqual(['verification.created', 'verification.failed']);
  expect(p.events[1].event.data).toMatchObject({ kind: 'push', provider: 'twilio', reason: 'no_verified_factor' });
  // The onboarding's phone step sends none of its own, and no event carries the number.
  const step = (onboarding.body as { steps: { name: string; workflowId: string }[] }).steps[0].workflowId;
  expect((await stack.http().get('/v1/events').query({ verificationId: step })).body.events).toEqual([]);
  expect(JSON.stringify(o)).not.toMatch(/\+1415557/);
});
