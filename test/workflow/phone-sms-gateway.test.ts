import { randomUUID } from 'node:crypto';
import { type Client, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Runtime } from '@temporalio/worker';
import type { SmsGatewayMessage, SmsGateways, SmsGatewaySent } from '../../providers/sms-gateway/http-gateways';
import type { VonageStartParams, VonageVerify } from '../../providers/vonage/verify';
import { FailureType, phoneContract, type PhoneVerificationInput, SA_PROVIDER } from '../../workflows/contract';
import { phoneVerification } from '../../workflows/phone/workflow';
import { saveHistory } from '../support/histories';
import { eventually } from '../support/stack';
import { startFakeWorker, type FakeWorker } from '../support/fake-worker';

/**
 * `phoneVerification` with channels of provider `sms_gateway` (our own OTP) on a real Temporal dev server: the OTP
 * activities are real (CSPRNG, keyed HMAC, constant-time check), the gateway transport and Vonage are typed fakes.
 */
const vonage = {
  startVerification: jest.fn<ReturnType<VonageVerify['startVerification']>, [VonageStartParams]>(),
  checkCode: jest.fn<ReturnType<VonageVerify['checkCode']>, [string, string]>(),
  nextWorkflow: jest.fn<Promise<boolean>, [string]>(),
  cancel: jest.fn<Promise<boolean>, [string]>(),
};
const gatewaySend = jest.fn<Promise<SmsGatewaySent>, [string | undefined, SmsGatewayMessage]>();
const gateways: SmsGateways = { names: () => ['gw-a', 'gw-b'], send: (g, m) => gatewaySend(g, m) };

let client: Client;
let fakeWorker: FakeWorker;
const taskQueue = `wf-otp-${randomUUID()}`;
/** Everything the worker logs (workflow and activity loggers end in the runtime logger). */
const logged: string[] = [];

beforeAll(async () => {
  const logger = Runtime.instance().logger;
  const original = logger.log.bind(logger);
  jest.spyOn(logger, 'log').mockImplementation((level, message, meta) => {
    logged.push(`${message} ${JSON.stringify(meta ?? {})}`);
    original(level, message, meta);
  });
  fakeWorker = await startFakeWorker(
    {
      vonage,
      smsGateways: gateways,
      otp: { hmacSecret: Buffer.from('workflow-test-otp-secret-0123456789') },
    },
    taskQueue,
  );
  client = fakeWorker.client;
});

afterAll(async () => {
  await fakeWorker?.stop();
});

let requestSeq = 0;
beforeEach(() => {
  vonage.startVerification.mockReset().mockImplementation(async (p) => ({
    requestId: `req-${++requestSeq}`,
    checkUrl: p.steps[0].channel === 'silent_auth' ? 'https://sandbox.example/check' : undefined,
  }));
  vonage.nextWorkflow.mockReset().mockResolvedValue(true);
  vonage.cancel.mockReset().mockResolvedValue(true);
  vonage.checkCode
    .mockReset()
    .mockImplementation(async (_id, code) => (code === '1234' ? 'completed' : 'invalid_code'));
  gatewaySend.mockReset().mockImplementation(async (g) => ({ gateway: g ?? 'gw-a', status: 200 }));
});

const TO = '+14155550100';
const GATEWAY_SMS = { channel: 'sms', provider: 'sms_gateway', gateway: 'gw-a' } as const;
const start = (input: Partial<PhoneVerificationInput> = {}) =>
  client.workflow.start(phoneVerification, {
    workflowId: `phone-${randomUUID().replace(/-/g, '')}`,
    taskQueue,
    args: [{ to: TO, brand: 'Acme', ...input } as PhoneVerificationInput],
  });
/** The code in the n-th SMS sent through a gateway (1-based), once it was sent. */
const sentCode = (n: number) =>
  eventually(() => {
    const call = gatewaySend.mock.calls[n - 1];
    return call && /(\d{4,10})$/.exec(call[1].body)?.[1];
  });
const historyJson = async (id: string) =>
  JSON.stringify(historyToJSON(await client.workflow.getHandle(id).fetchHistory()));
const rejection = (p: Promise<unknown>) => p.then(() => undefined).catch((e) => e as WorkflowUpdateFailedError);
/** A wrong code that is surely not `code`. */
const wrong = (code: string) => code.replace(/^./, (d) => String((Number(d) + 1) % 10));

test('our own OTP: sent through the named gateway, its HMAC alone in history, never logged; the code completes it', async () => {
  const handle = await start({ channels: [GATEWAY_SMS] });
  const code = await sentCode(1);
  expect(code).toMatch(/^\d{6}$/);
  expect(gatewaySend).toHaveBeenCalledWith('gw-a', {
    recipient: TO,
    body: `Your Acme code is ${code}`,
    sender: 'Acme',
  });
  const state = await eventually(async () => {
    const s = await handle.query(phoneContract.messages.getState);
    return s.codeExpiresAt ? s : undefined;
  });
  expect(state).toMatchObject({ status: 'pending', channel: 'sms', resendsLeft: 3, attemptsLeft: 5 });
  expect(state.channels).toEqual([
    { channel: 'sms', provider: 'sms_gateway', gateway: 'gw-a', timeoutSeconds: 120, status: 'active' },
  ]);
  expect(Date.parse(state.codeExpiresAt!) - Date.parse(state.updatedAt)).toBeGreaterThan(290_000);
  // While the code is live, history holds its keyed HMAC only.
  const live = await historyJson(handle.workflowId);
  expect(live).not.toContain(code);
  expect(live).toMatch(/otpSend/);

  expect(await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: wrong(code) }] })).toEqual({
    status: 'invalid_code',
    attemptsLeft: 4,
  });
  expect(await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code }] })).toEqual({
    status: 'completed',
    attemptsLeft: 4,
  });
  expect(await handle.result()).toMatchObject({ status: 'completed', reason: 'verified', channel: 'sms' });
  expect(vonage.startVerification).not.toHaveBeenCalled();
  expect(vonage.cancel).not.toHaveBeenCalled();
  expect((await handle.describe()).typedSearchAttributes.get(SA_PROVIDER)).toBe('sms_gateway');
  expect(logged.join('\n')).not.toContain(code);
  await saveHistory('phone-otp-happy-release-2026-12-05', handle);
});

test('brute force: concurrent wrong guesses are counted one by one and lock the verification', async () => {
  const handle = await start({ channels: [GATEWAY_SMS], maxCodeAttempts: 3 });
  const code = await sentCode(1);
  await eventually(async () => (await handle.query(phoneContract.messages.getState)).codeExpiresAt);
  const guesses = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      handle
        .executeUpdate(phoneContract.messages.checkCode, {
          args: [{ code: String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0') }],
        })
        .catch((e) => e),
    ),
  );
  const statuses = guesses.map((g) => (g instanceof Error ? 'rejected' : g.status));
  expect(statuses.filter((s) => s === 'invalid_code')).toHaveLength(2);
  expect(guesses).toContainEqual({ status: 'failed', attemptsLeft: 0, reason: 'max_attempts' });
  expect(await handle.result()).toMatchObject({ status: 'failed', reason: 'max_attempts', attemptsLeft: 0 });
  // Locked (the run is over): even the right code is refused now.
  expect(await rejection(handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code }] }))).toBeInstanceOf(
    Error,
  );
});

test('resend issues a new code; the old one stops working; resends are limited', async () => {
  const handle = await start({ channels: [GATEWAY_SMS], maxResends: 1 });
  const first = await sentCode(1);
  const after = await handle.executeUpdate(phoneContract.messages.resend, { args: [] });
  expect(after).toMatchObject({ status: 'pending', resendsLeft: 0 });
  expect(after.codeExpiresAt).toBeDefined();
  const second = await sentCode(2);
  expect(gatewaySend).toHaveBeenCalledTimes(2);
  const noMore = await rejection(handle.executeUpdate(phoneContract.messages.resend, { args: [] }));
  expect(noMore).toBeInstanceOf(WorkflowUpdateFailedError);
  expect(noMore!.cause).toMatchObject({ type: FailureType.ResendNotAvailable, message: 'no resends left' });
  if (first !== second) {
    expect(await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: first }] })).toEqual({
      status: 'invalid_code',
      attemptsLeft: 4,
    });
  }
  expect(await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: second }] })).toMatchObject({
    status: 'completed',
  });
  await saveHistory('phone-otp-resend', handle);
});

test('a code past its validity is refused as expired without spending an attempt; a resend gives a working one', async () => {
  const handle = await start({ channels: [GATEWAY_SMS], codeValiditySeconds: 5 });
  const first = await sentCode(1);
  await eventually(async () => (await handle.query(phoneContract.messages.getState)).codeExpiresAt);
  await new Promise((r) => setTimeout(r, 6000));
  expect(await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: first }] })).toEqual({
    status: 'expired',
    attemptsLeft: 5,
  });
  await handle.executeUpdate(phoneContract.messages.resend, { args: [] });
  const second = await sentCode(2);
  expect(await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: second }] })).toMatchObject({
    status: 'completed',
  });
});

test('resend on a Vonage channel is refused (ResendNotAvailable) before it enters history', async () => {
  const handle = await start({ channels: [{ channel: 'sms' }, GATEWAY_SMS] });
  await eventually(() => vonage.startVerification.mock.calls.length === 1);
  const err = await rejection(handle.executeUpdate(phoneContract.messages.resend, { args: [] }));
  expect(err!.cause).toMatchObject({ type: FailureType.ResendNotAvailable });
  expect(await historyJson(handle.workflowId)).not.toMatch(/"resend"/);
  // nextChannel moves on to our gateway, where resend works.
  expect(await handle.executeUpdate(phoneContract.messages.nextChannel, { args: [] })).toMatchObject({
    channelIndex: 1,
  });
  await sentCode(1);
  expect(await handle.executeUpdate(phoneContract.messages.resend, { args: [] })).toMatchObject({ resendsLeft: 2 });
  await handle.executeUpdate(phoneContract.messages.cancel, { args: [{}] });
  expect(vonage.cancel).toHaveBeenCalledTimes(1); // the Vonage request only: our code has nothing to phoneContract.messages.cancel
});

test('mixed providers: Vonage silent auth → our gateway SMS → Vonage voice completes with the gateway code', async () => {
  const handle = await start({
    channels: [{ channel: 'silent_auth' }, GATEWAY_SMS, { channel: 'voice', provider: 'vonage' }],
  });
  await eventually(() => vonage.startVerification.mock.calls.length === 1);
  // silent auth alone in its Vonage request: the next channel belongs to another provider.
  expect(vonage.startVerification.mock.calls[0][0].steps).toEqual([{ channel: 'silent_auth', to: TO }]);
  await handle.signal(phoneContract.messages.providerEvent, {
    eventId: `vonage:req-${requestSeq}:silent_auth:failed`,
    provider: 'vonage',
    ref: `req-${requestSeq}`,
    channel: 'silent_auth',
    status: 'failed',
  });
  const code = await sentCode(1);
  const onGateway = await eventually(async () => {
    const s = await handle.query(phoneContract.messages.getState);
    return s.channels[1].status === 'active' && s;
  });
  expect(onGateway.channels.map((c) => `${c.provider}:${c.status}`)).toEqual([
    'vonage:failed',
    'sms_gateway:active',
    'vonage:waiting',
  ]);
  expect(await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code }] })).toMatchObject({
    status: 'completed',
  });
  expect(await handle.result()).toMatchObject({ status: 'completed', channelIndex: 1 });
  expect(vonage.startVerification).toHaveBeenCalledTimes(1);
  await saveHistory('phone-mixed-providers', handle);
});

test('gateway down → the next provider serves the same channel: gw-a rejects, gw-b times out (retries), Vonage SMS', async () => {
  gatewaySend.mockImplementation(async (g) => {
    if (g === 'gw-a') {
      throw ApplicationFailure.create({ type: FailureType.ProviderRejected, message: 'HTTP 400', nonRetryable: true });
    }
    throw ApplicationFailure.create({ type: 'ProviderUnavailable', message: 'did not answer within 30000 ms' });
  });
  const handle = await start({
    channels: [
      GATEWAY_SMS,
      { channel: 'sms', provider: 'sms_gateway', gateway: 'gw-b' },
      { channel: 'sms', provider: 'vonage' },
    ],
  });
  await eventually(() => vonage.startVerification.mock.calls.length === 1, 30_000);
  expect(gatewaySend.mock.calls.map((c) => c[0])).toEqual(['gw-a', 'gw-b', 'gw-b', 'gw-b']);
  expect(vonage.startVerification.mock.calls[0][0].steps).toEqual([{ channel: 'sms', to: TO }]);
  const state = await eventually(async () => {
    const s = await handle.query(phoneContract.messages.getState);
    return s.channels[2].status === 'active' && s;
  });
  expect(state.channels.map((c) => c.status)).toEqual(['failed', 'failed', 'active']);
  expect(await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '1234' }] })).toMatchObject({
    status: 'completed',
  });
  await saveHistory('phone-gateway-fallback', handle);
});

test('a gateway channel must be sms; gateway applies only to sms_gateway (InvalidInput naming the field)', async () => {
  const bad = await start({ channels: [{ channel: 'voice', provider: 'sms_gateway' }] });
  expect(await bad.result().catch((e) => e.cause?.message)).toMatch(
    /channels\.0\.channel: an sms_gateway channel must be sms/,
  );
  const bad2 = await start({ channels: [{ channel: 'sms', provider: 'vonage', gateway: 'gw-a' }] });
  expect(await bad2.result().catch((e) => e.cause?.message)).toMatch(/channels\.0\.gateway: applies only to provider/);
});
