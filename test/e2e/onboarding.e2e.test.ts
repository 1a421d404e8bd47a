import { randomUUID } from 'node:crypto';
import type { OnboardingResult, OnboardingState } from '../../workflows/contract';
import { saveHistory } from '../support/histories';
import { eventually, startStack, type Stack } from '../support/stack';

/** Onboarding over HTTP with the sandbox: phone (SMS code from the outbox), then identity (hosted page outcome). */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const number = () => `+1415558${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;
const state = async (id: string) => (await stack.http().get(`/v1/onboardings/${id}`)).body as OnboardingState;

test('phone then identity, each a child workflow; the result lists both steps', async () => {
  const to = number();
  const reference = `onb-${randomUUID().slice(0, 8)}`;
  const res = await stack
    .http()
    .post('/v1/onboardings')
    .send({
      reference,
      phone: { to, brand: 'Onboard', channels: [{ channel: 'sms' }] },
      identity: { type: 'document' },
    });
  expect(res.status).toBe(201);
  const id = res.body.id as string;
  expect(id).toBe(`onboarding-sandbox-${reference}`);

  const code = await eventually(async () => {
    const out = await stack.http().get('/sandbox/outbox').query({ to });
    return (out.body as { code: string }[]).pop()?.code;
  });
  const checked = await stack.http().post(`/v1/verifications/phone-sandbox-${reference}/check`).send({ code });
  expect(checked.body).toMatchObject({ status: 'completed' });

  await eventually(async () => (await state(id)).step === 'identity');
  const identityId = `identity-sandbox-${reference}`;
  const secret = await eventually(async () => {
    const r = await stack.http().post(`/v1/verifications/${identityId}/client-secret`);
    return r.status === 200 && (r.body as { url: string });
  });
  const chosen = await fetch(secret.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ outcome: 'verified' }),
  });
  expect(chosen.ok).toBe(true);

  const result = (await stack.client.workflow.getHandle(id).result()) as OnboardingResult;
  expect(result).toMatchObject({ status: 'completed', reason: 'verified' });
  expect(result.steps.map((s) => [s.name, s.status])).toEqual([
    ['phone', 'completed'],
    ['identity', 'completed'],
  ]);
  expect(result.results.phone).toMatchObject({ id: `phone-sandbox-${reference}`, status: 'completed' });
  expect(result.results.identity).toMatchObject({ id: identityId, status: 'completed' });
  expect(result.results.identity?.verifiedOutputs).toBeDefined();
  await saveHistory('onboarding-e2e-phone-identity-fewer-actions', stack.client.workflow.getHandle(id));
  const parent = await stack.client.workflow.getHandle(`phone-sandbox-${reference}`).describe();
  expect(parent.parentExecution?.workflowId).toBe(id);
});

test('cancelling the onboarding cancels the running step', async () => {
  const reference = `onb-${randomUUID().slice(0, 8)}`;
  const res = await stack
    .http()
    .post('/v1/onboardings')
    .send({
      reference,
      phone: { to: number(), brand: 'Onboard', channels: [{ channel: 'sms' }] },
      identity: { type: 'document' },
    });
  const id = res.body.id as string;
  await eventually(async () => (await state(id)).steps[0].status === 'running');
  const cancelled = await stack.http().post(`/v1/onboardings/${id}/cancel`).send({});
  expect(cancelled.status).toBe(200);
  expect(cancelled.body).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
  expect(cancelled.body.steps.map((s: { status: string }) => s.status)).toEqual(['cancelled', 'skipped']);
  // A second cancel of the finished onboarding: 409 naming the onboarding (not 404, not "verification").
  const again = await stack.http().post(`/v1/onboardings/${id}/cancel`).send({});
  expect(again.status).toBe(409);
  expect(again.body.message).toMatch(/^onboarding .* is no longer live$/);
  const child = await eventually(async () => {
    const d = await stack.client.workflow.getHandle(`phone-sandbox-${reference}`).describe();
    return d.status.name !== 'RUNNING' && d;
  });
  // The child ended gracefully: its own state says cancelled, and it released the Vonage request.
  expect(child.status.name).toBe('COMPLETED');
  expect(await stack.client.workflow.getHandle(`phone-sandbox-${reference}`).result()).toMatchObject({
    status: 'cancelled',
  });
  await eventually(
    () =>
      stack.sandbox!.vonage.requests.list().find((r) => r.clientRef === `phone-sandbox-${reference}`)?.status ===
      'cancelled',
  );
});

test('bad onboarding input names the field', async () => {
  const res = await stack
    .http()
    .post('/v1/onboardings')
    .send({ reference: 'x', phone: { to: '+1', brand: 'B' }, identity: {} });
  expect(res.status).toBe(400);
  expect(res.body.message).toMatch(/phone\.to: .*identity\.type: /);
});

test('an onboarding whose phone step is already running is refused with 409 (it could never start that step)', async () => {
  const reference = `onb-${randomUUID().slice(0, 8)}`;
  const phone = await stack
    .http()
    .post('/v1/verifications/phone')
    .send({ to: number(), brand: 'Onboard', reference, channels: [{ channel: 'sms' }] });
  expect(phone.status).toBe(201);
  const res = await stack
    .http()
    .post('/v1/onboardings')
    .send({ reference, phone: { to: number(), brand: 'Onboard' }, identity: { type: 'document' } });
  expect(res.status).toBe(409);
  expect(res.body.message).toContain(`phone-sandbox-${reference} is running`);
  await expect(stack.client.workflow.getHandle(`onboarding-sandbox-${reference}`).describe()).rejects.toThrow();
  await stack.http().post(`/v1/verifications/${phone.body.id}/cancel`).send({});
});
