import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createApi, type ApiApp } from '../../src/app';
import { createAbuseGuard } from '../../src/auth/abuse-guard';
import { connectClient } from '../../src/temporal/client';
import type { PhoneVerificationState } from '../../workflows/contract';
import { freePort } from '../support/ports';
import { startRedisServer, type RedisServer } from '../../src/common/redis-server';
import { eventually, SANDBOX_AUTH, startStack, testConfig, type Stack } from '../support/stack';

/**
 * The abuse guard end to end over REST, with tight limits: SMS pumping to one number and to one prefix, brute force
 * across verifications, concurrent wrong codes, refusals inside a running verification, content rules, references.
 * Counts come from the sandbox outbox (what was "sent") and the Vonage emulator (what was checked).
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    LIMIT_SENDS_PER_DESTINATION: '3/10m',
    LIMIT_SENDS_PER_DESTINATION_DAY: '6/24h',
    LIMIT_SENDS_PER_PREFIX: '8/10m',
    LIMIT_PREFIX_DROP_DIGITS: '3',
    LIMIT_FAILED_CHECKS_PER_DESTINATION: '4/1h',
    ALLOWED_COUNTRIES: 'US,CA',
  });
});
afterAll(async () => {
  await stack?.stop();
});

/** A number prefix of this test's own: a valid US number without its last 3 digits (+1 415 NXX X). */
const prefix = () => `+1415${200 + Math.floor(Math.random() * 800)}${Math.floor(Math.random() * 10)}`;
const start = (body: Record<string, unknown>) =>
  stack
    .http()
    .post('/v1/verifications/phone')
    .send({ brand: 'Acme', channels: [{ channel: 'sms' }], ...body });
const sent = async (to: string) =>
  ((await stack.http().get('/sandbox/outbox').query({ to })).body as { channel: string; code: string }[]).length;
const state = async (id: string) => (await stack.http().get(`/v1/verifications/${id}`)).body as PhoneVerificationState;
const codeFor = (to: string) =>
  eventually(async () => {
    const out = (await stack.http().get('/sandbox/outbox').query({ to })).body as { code: string }[];
    return out.pop()?.code;
  });

/** Our own codes over the sandbox gateway: unlike Vonage, it takes any number of concurrent requests per number. */
const OWN_OTP = [{ channel: 'sms', provider: 'sms_gateway' }];

test('30 starts to one number in parallel: 3 are sent, the rest refused with 429 scope destination and Retry-After', async () => {
  const to = `${prefix()}001`;
  const answers = await Promise.all(Array.from({ length: 30 }, () => start({ to, channels: OWN_OTP })));
  const statuses = answers.map((a) => a.status);
  expect(statuses.filter((s) => s === 201)).toHaveLength(3);
  expect(statuses.filter((s) => s === 429)).toHaveLength(27);
  const refused = answers.find((a) => a.status === 429)!;
  expect(refused.body).toMatchObject({ error: 'rate_limited', scope: 'destination' });
  expect(refused.body.retryAfterSeconds).toBeGreaterThan(0);
  expect(Number(refused.headers['retry-after'])).toBe(refused.body.retryAfterSeconds);
  await eventually(async () => (await sent(to)) === 3);
  await new Promise((r) => setTimeout(r, 500));
  expect(await sent(to)).toBe(3);
});

test('email codes count per address like SMS per number: 3 sent to one address from 3 numbers, then 429', async () => {
  const email = `pump-${randomUUID().slice(0, 8)}@example.com`;
  const p = prefix();
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await start({ to: `${p}${300 + i}`, channels: [{ channel: 'email', to: email }] });
    statuses.push(res.status === 202 ? 201 : res.status); // 202: started, its first state not read in time
    if (res.status >= 300) continue;
    // Vonage refuses concurrent requests to one destination: each mail is sent, then its verification cancelled.
    await eventually(async () => (await sent(email)) === i + 1);
    expect((await stack.http().post(`/v1/verifications/${res.body.id}/cancel`).send({})).status).toBe(200);
  }
  expect(statuses).toEqual([201, 201, 201, 429, 429]);
  expect(await sent(email)).toBe(3);
  // The numbers themselves were not spent: an SMS to the first one still goes out.
  expect((await start({ to: `${p}300`, channels: OWN_OTP })).status).toBe(201);
});

test('20 numbers of one prefix: 8 are sent, then 429 scope prefix', async () => {
  const p = prefix();
  const numbers = Array.from({ length: 20 }, (_, i) => `${p}${String(100 + i)}`);
  const statuses: number[] = [];
  for (const to of numbers) statuses.push((await start({ to })).status);
  expect(statuses.filter((s) => s === 201)).toHaveLength(8);
  const refused = await start({ to: `${p}999` });
  expect(refused.status).toBe(429);
  expect(refused.body.scope).toBe('prefix');
});

test('wrong guesses across verifications lock the destination: even the right code and new starts are refused', async () => {
  const to = `${prefix()}002`;
  const first = await start({ to, maxCodeAttempts: 10, channels: OWN_OTP });
  const second = await start({ to, maxCodeAttempts: 10, channels: OWN_OTP });
  for (const id of [first.body.id, first.body.id, second.body.id, second.body.id]) {
    const res = await stack.http().post(`/v1/verifications/${id}/check`).send({ code: '000000' });
    expect(res.body).toMatchObject({ status: 'invalid_code' });
  }
  const code = await codeFor(to);
  const locked = await stack.http().post(`/v1/verifications/${second.body.id}/check`).send({ code });
  expect(locked.status).toBe(429);
  expect(locked.body).toMatchObject({ error: 'rate_limited', scope: 'failed_checks' });
  expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
  // Refused without being evaluated: no attempt spent, the verification still live.
  expect(await state(second.body.id)).toMatchObject({ status: 'pending', attemptsLeft: 8 });
  const again = await start({ to });
  expect(again.status).toBe(429);
  expect(again.body.scope).toBe('failed_checks');
});

test('10 parallel wrong codes with maxCodeAttempts 2: exactly 2 provider checks, then failed / max_attempts', async () => {
  const to = `${prefix()}003`;
  const started = await start({ to, maxCodeAttempts: 2 });
  const id = started.body.id as string;
  await eventually(async () => (await state(id)).channels[0].status === 'active');
  const answers = await Promise.all(
    Array.from({ length: 10 }, () => stack.http().post(`/v1/verifications/${id}/check`).send({ code: '999999' })),
  );
  expect(answers.map((a) => a.status).every((s) => s === 200 || s === 409)).toBe(true);
  const request_ = stack.sandbox!.vonage.requests.list().find((r) => r.clientRef === id)!;
  expect(request_.wrongCodes).toBe(2);
  expect(await state(id)).toMatchObject({ status: 'failed', reason: 'max_attempts', attemptsLeft: 0 });
});

test('a refused resend answers 429 and leaves the verification live, its code still working', async () => {
  const to = `${prefix()}004`;
  const started = await start({ to, channels: [{ channel: 'sms', provider: 'sms_gateway' }], maxResends: 5 });
  const id = started.body.id as string;
  await eventually(async () => (await sent(to)) === 1);
  expect((await stack.http().post(`/v1/verifications/${id}/resend`)).status).toBe(200);
  expect((await stack.http().post(`/v1/verifications/${id}/resend`)).status).toBe(200);
  const code = await codeFor(to);
  const refused = await stack.http().post(`/v1/verifications/${id}/resend`);
  expect(refused.status).toBe(429);
  expect(refused.body).toMatchObject({ error: 'rate_limited', scope: 'destination' });
  expect(await sent(to)).toBe(3);
  expect(await state(id)).toMatchObject({ status: 'pending', resendsLeft: 3 });
  const check = await stack.http().post(`/v1/verifications/${id}/check`).send({ code });
  expect(check.body).toMatchObject({ status: 'completed' });
});

test('a refused next channel answers 429 and leaves the verification live on its channel', async () => {
  const to = `${prefix()}005`;
  const first = await start({ to, channels: [{ channel: 'sms' }, { channel: 'voice' }] });
  const id = first.body.id as string;
  // Its Vonage request exists before the other two starts: Vonage refuses a second request to a number with one open,
  // and a run beaten to it would fall back on its own. The others go through our gateway, which has no such rule.
  await eventually(async () => (await state(id)).channels[0].status === 'active');
  expect((await start({ to, channels: OWN_OTP })).status).toBe(201);
  expect((await start({ to, channels: OWN_OTP })).status).toBe(201);
  const refused = await stack.http().post(`/v1/verifications/${id}/next-channel`);
  expect(refused.status).toBe(429);
  expect(await state(id)).toMatchObject({ status: 'pending', channel: 'sms', channelIndex: 0 });
});

test('a destination outside ALLOWED_COUNTRIES → 422 destination_not_allowed; nothing sent or started', async () => {
  const res = await start({ to: '+442071838750' });
  expect(res.status).toBe(422);
  expect(res.body).toMatchObject({ error: 'destination_not_allowed' });
  expect(await sent('+442071838750')).toBe(0);
});

test('content: brand without control, bidi or zero-width characters; templates by configured name only', async () => {
  const to = `${prefix()}006`;
  for (const brand of ['Acme\u202e', 'Ac\u200bme', 'Acme\nBank', 'Acme\u0007', ' Acme', 'A'.repeat(17)]) {
    const res = await start({ to, brand });
    expect([brand, res.status]).toEqual([brand, 400]);
    expect(res.body.message).toMatch(/^brand: /);
  }
  const phishing = await start({
    to,
    channels: [{ channel: 'sms', provider: 'sms_gateway' }],
    messageTemplate: 'Your bank account is locked, call +1 900 555 0100: @@password@@',
  });
  expect(phishing.status).toBe(400);
  expect(phishing.body.message).toMatch(/^messageTemplate: /);
  const unknown = await start({ to, channels: [{ channel: 'sms', provider: 'sms_gateway' }], messageTemplate: 'nope' });
  expect(unknown.status).toBe(400);
  expect(unknown.body.message).toBe('messageTemplate: no template named nope is configured');
  const named = await start({ to, channels: [{ channel: 'sms', provider: 'sms_gateway' }], messageTemplate: 'short' });
  expect(named.status).toBe(201);
  // The start answers before the worker sends: wait for the message to reach the outbox.
  const message = await eventually(async () => {
    const out = (await stack.http().get('/sandbox/outbox').query({ to })).body as { body?: string; text?: string }[];
    return out.pop();
  });
  expect(JSON.stringify(message)).toMatch(/\d{6} is your Acme code/);
  expect(await sent(to)).toBe(1);
});

test('channels[].to never names a second phone number; a reference reused with another body → 409 reference_conflict', async () => {
  const to = `${prefix()}007`;
  const second = await start({ to, channels: [{ channel: 'sms', to: '+14155550199' }] });
  expect(second.status).toBe(400);
  expect(second.body.message).toMatch(/^channels\.0\.to: /);
  const reference = `ref-${randomUUID().slice(0, 8)}`;
  const a = await start({ to, reference });
  const same = await start({ to, reference });
  const other = await start({ to: `${prefix()}008`, reference });
  expect([a.status, same.status, other.status]).toEqual([201, 201, 409]);
  expect(same.body.id).toBe(a.body.id);
  expect(other.body).toMatchObject({ error: 'reference_conflict' });
  await eventually(async () => (await sent(to)) === 1);
  expect(await sent(to)).toBe(1);
});

test('client-side caller fields are refused: a REST caller cannot set client or firstSendCounted', async () => {
  const res = await start({ to: `${prefix()}009`, client: 'someoneelse', firstSendCounted: true });
  expect(res.status).toBe(400);
  expect(res.body.message).toMatch(/Unrecognized keys?.*client/);
  // Nor in a push verification's phone fallback, whose first send the worker then counts.
  const push = await stack
    .http()
    .post('/v1/verifications/push')
    .send({
      identity: randomUUID(),
      message: 'Sign in?',
      fallback: { to: `${prefix()}010`, brand: 'Acme', firstSendCounted: true },
    });
  expect(push.status).toBe(400);
  expect(push.body.message).toMatch(/^fallback: Unrecognized key.*firstSendCounted/);
});

describe('two API replicas on one Redis', () => {
  let redis: RedisServer;
  const apis: ApiApp[] = [];
  const guards: { close(): Promise<void> }[] = [];
  beforeAll(async () => {
    redis = await startRedisServer({ binary: process.env.REDIS_SERVER_BIN, pathEnv: process.env.PATH });
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      // Separate processes in production; here two apps with their own guard instances on the same Redis.
      const config = testConfig(port, {
        REDIS_URL: redis.url,
        LIMIT_SENDS_PER_DESTINATION: '4/10m',
        TEMPORAL_TASK_QUEUE: stack.config.taskQueue,
      });
      const guard = createAbuseGuard(config.limits);
      guards.push(guard);
      const api = await createApi(config, await connectClient(config), guard, { logger: false });
      await api.app.init();
      apis.push(api);
    }
  });
  afterAll(async () => {
    for (const api of apis) {
      api.sandbox?.close();
      await api.app.close();
    }
    for (const guard of guards) await guard.close();
    await redis?.dispose();
  });

  test('starts split across both replicas share one limit', async () => {
    const to = `${prefix()}010`;
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await request(apis[i % 2].app.getHttpServer())
        .post('/v1/verifications/phone')
        .set('Authorization', SANDBOX_AUTH)
        .send({ to, brand: 'Acme', channels: [{ channel: 'sms' }] });
      statuses.push(res.status);
    }
    expect(statuses.filter((s) => s === 201 || s === 202)).toHaveLength(4);
    expect(statuses.filter((s) => s === 429)).toHaveLength(6);
  });
});
