import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Runtime } from '@temporalio/worker';
import { sign } from 'jsonwebtoken';
import { type PhoneVerificationState, smsDeliveryContract } from '../../workflows/contract';
import { eventually, startStack, type Stack } from '../support/stack';
import { uniqueNumber } from '../support/numbers';

/**
 * Fallback across providers, over HTTP with the sandbox: the `sandbox-500` and `sandbox-hang` gateways (a short
 * gateway timeout is configured) for the inbound gateway's deliveries and for phone verifications, a phone
 * verification that mixes Vonage and our own OTP, REST resend, and the inbound budget running out (504).
 */
const logged: string[] = [];
beforeAll(() => {
  for (const level of ['log', 'warn', 'error', 'debug', 'verbose', 'fatal'] as const) {
    jest.spyOn(Logger.prototype, level).mockImplementation((...args: unknown[]) => {
      logged.push(JSON.stringify(args));
    });
  }
  const runtimeLogger = Runtime.instance().logger;
  const original = runtimeLogger.log.bind(runtimeLogger);
  jest.spyOn(runtimeLogger, 'log').mockImplementation((level, message, meta) => {
    logged.push(`${message} ${JSON.stringify(meta ?? {})}`);
    original(level, message, meta);
  });
});
afterAll(() => jest.restoreAllMocks());

const helpers = (stack: () => Stack) => {
  const auth0 = (body: object) => {
    const inbound = stack().config.sms.inbound!;
    const token = sign({}, inbound.secret, {
      algorithm: 'HS256',
      subject: inbound.subject,
      audience: inbound.audience,
      expiresIn: 60,
    });
    return stack().http().post('/sms-gateway').set('authorization', `Bearer ${token}`).send(body);
  };
  const outbox = async (to: string, filter: { provider?: string; channel?: string } = {}) =>
    (
      (await stack().http().get('/sandbox/outbox').query({ to })).body as {
        provider: string;
        channel: string;
        code: string;
      }[]
    ).filter(
      (e) => (!filter.provider || e.provider === filter.provider) && (!filter.channel || e.channel === filter.channel),
    );
  const startPhone = async (body: object): Promise<PhoneVerificationState> => {
    const res = await stack()
      .http()
      .post('/v1/verifications/phone')
      .send({ brand: 'Acme', ...body });
    expect(res.status).toBe(201);
    return res.body;
  };
  const waitFor = (id: string, pred: (s: PhoneVerificationState) => boolean) =>
    eventually(async () => {
      const s = (await stack().http().get(`/v1/verifications/${id}`)).body as PhoneVerificationState;
      return pred(s) && s;
    }, 40_000);
  const check = async (id: string, code: string) =>
    (await stack().http().post(`/v1/verifications/${id}/check`).send({ code })).body;
  return { auth0, outbox, startPhone, waitFor, check };
};

describe('routes sandbox-500 → sandbox-hang → sandbox, gateway timeout 1.5 s', () => {
  let stack: Stack;
  const { auth0, outbox, startPhone, waitFor, check } = helpers(() => stack);
  beforeAll(async () => {
    stack = await startStack({
      SMS_GATEWAY_TIMEOUT_MS: '1500',
      SMS_INBOUND_ROUTES: 'sms_gateway:sandbox-500,sms_gateway:sandbox-hang,sms_gateway:sandbox',
      SMS_INBOUND_ID_SECRET: `test-sms-id-secret-${randomUUID()}`,
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('inbound: gateway 500 → next; gateway hangs → timeout → next; the third accepts within the budget → 200', async () => {
    const to = uniqueNumber('+1415556');
    const res = await auth0({ recipient: to, body: 'Your verification code is: 424242', sender: '+1 234 567' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'accepted', acceptedBy: 'sms_gateway:sandbox' });
    const state = await stack.client.workflow.getHandle(res.body.id).query(smsDeliveryContract.messages.getState);
    expect(state.routes).toEqual([
      { provider: 'sms_gateway', gateway: 'sandbox-500', status: 'failed', failure: 'ProviderUnavailable' },
      { provider: 'sms_gateway', gateway: 'sandbox-hang', status: 'failed', failure: 'ProviderUnavailable' },
      { provider: 'sms_gateway', gateway: 'sandbox', status: 'accepted' },
    ]);
    // Two attempts per route (SMS_INBOUND_ATTEMPTS_PER_ROUTE) before falling back.
    expect(stack.sandbox!.smsGateway!.counts.failed500).toBeGreaterThanOrEqual(2);
    expect(stack.sandbox!.smsGateway!.counts.hanging).toBeGreaterThanOrEqual(2);
    expect(await outbox(to, { provider: 'sms_gateway' })).toHaveLength(1);
  });

  test('inbound: every route failing (+15005550003 refused by the last one) → 502 sms_provider_error', async () => {
    const res = await auth0({ recipient: '+15005550003', body: 'Your verification code is: 111111', sender: 'Acme' });
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ error: 'sms_provider_error' });
    expect(res.body.message).toMatch(/provider_error/);
  });

  test('phone: Vonage silent auth → our gateway SMS → Vonage voice completes with the gateway code from the outbox', async () => {
    const to = '+15005550001'; // silent auth: network not supported
    const started = await startPhone({
      to,
      channels: [
        { channel: 'silent_auth' },
        { channel: 'sms', provider: 'sms_gateway', gateway: 'sandbox' },
        { channel: 'voice', provider: 'vonage' },
      ],
    });
    const onGateway = await waitFor(started.id, (s) => s.channelIndex === 1 && !!s.codeExpiresAt);
    expect(onGateway.channels.map((c) => `${c.provider}:${c.status}`)).toEqual([
      'vonage:failed',
      'sms_gateway:active',
      'vonage:waiting',
    ]);
    const [sms] = await eventually(() => outbox(to, { provider: 'sms_gateway' }).then((e) => e.length > 0 && e));
    expect(sms.code).toMatch(/^\d{6}$/);
    expect(await check(started.id, sms.code)).toEqual({ status: 'completed', attemptsLeft: 5 });
    const done = await waitFor(started.id, (s) => s.status === 'completed');
    expect(done.channels.map((c) => c.status)).toEqual(['failed', 'completed', 'waiting']);
    // The code never appears in the fetched history (payloads are encrypted; history holds only its HMAC) nor in logs.
    const history = JSON.stringify(historyToJSON(await stack.client.workflow.getHandle(started.id).fetchHistory()));
    expect(history).not.toContain(sms.code);
    expect(logged.join('\n')).not.toContain(sms.code);
  });

  test('phone: gateway 500 (retries exhausted) → gateway hang (timeouts) → Vonage voice serves the verification', async () => {
    const to = uniqueNumber('+1415556');
    const started = await startPhone({
      to,
      channels: [
        { channel: 'sms', provider: 'sms_gateway', gateway: 'sandbox-500' },
        { channel: 'sms', provider: 'sms_gateway', gateway: 'sandbox-hang' },
        { channel: 'voice', provider: 'vonage' },
      ],
    });
    const onVoice = await waitFor(started.id, (s) => s.channels[2].status === 'active');
    expect(onVoice.channels.map((c) => c.status)).toEqual(['failed', 'failed', 'active']);
    const [voice] = await eventually(() => outbox(to, { channel: 'voice' }).then((e) => e.length > 0 && e), 30_000);
    expect(await check(started.id, voice.code)).toMatchObject({ status: 'completed' });
    expect(await outbox(to, { provider: 'sms_gateway' })).toHaveLength(0);
  });

  test('REST resend: a new code, the old one stops working; resend on a Vonage channel → 409', async () => {
    const to = uniqueNumber('+1415556');
    const started = await startPhone({
      to,
      channels: [{ channel: 'sms', provider: 'sms_gateway' }, { channel: 'sms' }],
    });
    const [first] = await eventually(() => outbox(to).then((e) => e.length === 1 && e));
    const resent = await stack.http().post(`/v1/verifications/${started.id}/resend`).send();
    expect(resent.status).toBe(200);
    expect(resent.body).toMatchObject({ resendsLeft: 2, channelIndex: 0, channels: [{ gateway: 'sandbox' }, {}] });
    const entries = await eventually(() => outbox(to).then((e) => e.length === 2 && e));
    const second = entries[1];
    if (second.code !== first.code) {
      expect(await check(started.id, first.code)).toEqual({ status: 'invalid_code', attemptsLeft: 4 });
    }
    const moved = await stack.http().post(`/v1/verifications/${started.id}/next-channel`).send();
    expect(moved.body).toMatchObject({ channelIndex: 1 });
    // The gateway's code died with its channel; Vonage's channel has no code of ours to resend.
    expect(await check(started.id, second.code)).toMatchObject({ status: 'invalid_code' });
    const refused = await stack.http().post(`/v1/verifications/${started.id}/resend`).send();
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/no code of ours to resend/);
    await stack.http().post(`/v1/verifications/${started.id}/cancel`).send({});
  });
});

describe('routes sandbox-hang → sandbox, gateway timeout 3 s, budget 2 s', () => {
  let stack: Stack;
  const { auth0, outbox } = helpers(() => stack);
  beforeAll(async () => {
    stack = await startStack({
      SMS_GATEWAY_TIMEOUT_MS: '3000',
      SMS_INBOUND_BUDGET_MS: '2000',
      SMS_INBOUND_ROUTES: 'sms_gateway:sandbox-hang,sms_gateway:sandbox',
      SMS_INBOUND_ID_SECRET: `test-sms-id-secret-${randomUUID()}`,
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('no provider accepted within the budget → 504; the run goes on, delivers, and a repeat then gets 200', async () => {
    const to = uniqueNumber('+1415556');
    const body = { recipient: to, body: 'Your verification code is: 909090', sender: 'Acme' };
    const res = await auth0(body);
    expect(res.status).toBe(504);
    expect(await outbox(to)).toHaveLength(0);
    await eventually(() => outbox(to).then((e) => e.length === 1), 40_000);
    const again = await auth0(body);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: 'accepted', acceptedBy: 'sms_gateway:sandbox' });
    expect(await outbox(to)).toHaveLength(1);
  });
});
