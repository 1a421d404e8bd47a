import { randomUUID } from 'node:crypto';
import { type Client, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TwilioCheckOutcome, TwilioVerify, TwilioVerifyStartParams } from '../../providers/twilio/verify';
import type { VonageStartParams, VonageVerify } from '../../providers/vonage/verify';
import {
  FailureType,
  phoneContract,
  SA_PROVIDER_REF,
  type PhoneVerificationInput,
  type ProviderEvent,
} from '../../workflows/contract';
import { phoneVerification } from '../../workflows/phone/workflow';
import { startFakeWorker, type FakeWorker } from '../support/fake-worker';
import { saveHistory } from '../support/histories';
import { eventually } from '../support/stack';

/**
 * `phoneVerification` with channels of provider `twilio` (Twilio Verify, one verification per channel) on a real
 * Temporal dev server, alone and mixed with Vonage in one run; both adapters are typed fakes (the Twilio adapter is
 * tested through the SDK against the emulator in test/sandbox).
 */
const vonage = {
  startVerification: jest.fn<ReturnType<VonageVerify['startVerification']>, [VonageStartParams]>(),
  checkCode: jest.fn<ReturnType<VonageVerify['checkCode']>, [string, string]>(),
  nextWorkflow: jest.fn<Promise<boolean>, [string]>(),
  cancel: jest.fn<Promise<boolean>, [string]>(),
};
const twilio = {
  startVerification: jest.fn<ReturnType<TwilioVerify['startVerification']>, [TwilioVerifyStartParams]>(),
  checkCode: jest.fn<Promise<TwilioCheckOutcome>, [string, string]>(),
  checkSilentAuth: jest.fn<Promise<TwilioCheckOutcome>, [string]>(),
  fetchStatus: jest.fn<ReturnType<TwilioVerify['fetchStatus']>, [string]>(),
  cancel: jest.fn<Promise<boolean>, [string]>(),
};

let client: Client;
let fakeWorker: FakeWorker;
const taskQueue = `wf-twilio-${randomUUID()}`;

beforeAll(async () => {
  fakeWorker = await startFakeWorker({ vonage, twilioVerify: twilio }, taskQueue);
  client = fakeWorker.client;
});

afterAll(async () => {
  await fakeWorker?.stop();
});

let seq = 0;
beforeEach(() => {
  jest.resetAllMocks();
  vonage.startVerification.mockImplementation(async (p) => ({
    requestId: `req-${++seq}`,
    checkUrl: p.steps[0].channel === 'silent_auth' ? 'https://vonage.example/check' : undefined,
  }));
  vonage.nextWorkflow.mockResolvedValue(true);
  vonage.cancel.mockResolvedValue(true);
  vonage.checkCode.mockImplementation(async (_id, code) => (code === '1234' ? 'completed' : 'invalid_code'));
  twilio.startVerification.mockImplementation(async (p) => {
    const sid = `VE${String(++seq).padStart(32, '0')}`;
    return { sid, ...(p.channel === 'silent_auth' ? { snaUrl: `https://twilio.example/sna/${sid}` } : {}) };
  });
  twilio.cancel.mockResolvedValue(true);
  twilio.checkCode.mockImplementation(async (_sid, code) => (code === '123456' ? 'completed' : 'invalid_code'));
});

const TO = '+14155550100';
const start = (input: Partial<PhoneVerificationInput> = {}) =>
  client.workflow.start(phoneVerification, {
    workflowId: `phone-${randomUUID().replace(/-/g, '')}`,
    taskQueue,
    args: [{ to: TO, brand: 'Acme', ...input } as PhoneVerificationInput],
  });
const check = (handle: Awaited<ReturnType<typeof start>>, code: string) =>
  handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code }] });
const stateOf = (handle: Awaited<ReturnType<typeof start>>) => handle.query(phoneContract.messages.getState);
const lastSid = () => twilio.startVerification.mock.results.at(-1)!.value as Promise<{ sid: string }>;
const vonageEvent = (ref: string, status: ProviderEvent['status'], channel: ProviderEvent['channel']) => ({
  eventId: `vonage:${ref}:${channel}:${status}`,
  provider: 'vonage' as const,
  ref,
  channel,
  status,
});

test('Twilio SMS only: one verification with locale and brand; a wrong code, then the right one completes', async () => {
  const handle = await start({ channels: [{ channel: 'sms', provider: 'twilio' }], locale: 'pt-br' });
  await eventually(() => twilio.startVerification.mock.calls.length === 1);
  expect(twilio.startVerification.mock.calls[0][0]).toEqual({ channel: 'sms', to: TO, brand: 'Acme', locale: 'pt-br' });
  expect(await check(handle, '999999')).toEqual({ status: 'invalid_code', attemptsLeft: 4 });
  expect(await check(handle, '123456')).toEqual({ status: 'completed', attemptsLeft: 4 });
  const sid = (await lastSid()).sid;
  expect(twilio.checkCode.mock.calls).toEqual([
    [sid, '999999'],
    [sid, '123456'],
  ]);
  expect(await handle.result()).toMatchObject({
    status: 'completed',
    reason: 'verified',
    channels: [{ channel: 'sms', provider: 'twilio', status: 'completed' }],
  });
  expect(twilio.cancel).not.toHaveBeenCalled();
  expect(vonage.startVerification).not.toHaveBeenCalled();
  expect((await handle.describe()).typedSearchAttributes.get(SA_PROVIDER_REF)).toEqual([`twilio:${sid}`]);
  await saveHistory('phone-twilio-sms-happy', handle);
});

test('Twilio channel timeout: that verification is cancelled and the next Twilio channel gets its own', async () => {
  const handle = await start({
    channels: [
      { channel: 'sms', provider: 'twilio', timeoutSeconds: 1 },
      { channel: 'voice', provider: 'twilio' },
    ],
  });
  await eventually(() => twilio.startVerification.mock.calls.length === 2, 20_000);
  const first = (await twilio.startVerification.mock.results[0].value) as { sid: string };
  expect(twilio.cancel).toHaveBeenCalledWith(first.sid);
  expect(twilio.startVerification.mock.calls[1][0]).toMatchObject({ channel: 'voice' });
  expect(await check(handle, '123456')).toMatchObject({ status: 'completed' });
  expect(twilio.checkCode.mock.calls[0][0]).toBe((await lastSid()).sid);
  expect((await handle.result()).channels.map((c) => c.status)).toEqual(['failed', 'completed']);
});

test('provider down, Vonage → Twilio: the SMS listed twice falls back to Twilio once the retry budget is spent', async () => {
  vonage.startVerification.mockRejectedValue(
    ApplicationFailure.create({ type: 'ProviderUnavailable', message: 'HTTP 503', nextRetryDelay: 200 }),
  );
  const handle = await start({
    channels: [
      { channel: 'sms', provider: 'vonage' },
      { channel: 'sms', provider: 'twilio' },
    ],
    providerRetrySeconds: 5,
  });
  await eventually(() => twilio.startVerification.mock.calls.length === 1, 30_000);
  expect(vonage.startVerification.mock.calls.length).toBeGreaterThan(1);
  expect(await check(handle, '123456')).toMatchObject({ status: 'completed' });
  const result = await handle.result();
  expect(result.channels.map((c) => [c.provider, c.status])).toEqual([
    ['vonage', 'failed'],
    ['twilio', 'completed'],
  ]);
});

test('provider down, Twilio → Vonage: the SMS listed twice falls back to Vonage once the retry budget is spent', async () => {
  twilio.startVerification.mockRejectedValue(
    ApplicationFailure.create({ type: 'ProviderUnavailable', message: 'HTTP 503', nextRetryDelay: 200 }),
  );
  const handle = await start({
    channels: [
      { channel: 'sms', provider: 'twilio' },
      { channel: 'sms', provider: 'vonage' },
    ],
    providerRetrySeconds: 5,
  });
  await eventually(() => vonage.startVerification.mock.calls.length === 1, 30_000);
  expect(twilio.startVerification.mock.calls.length).toBeGreaterThan(1);
  expect(await check(handle, '1234')).toMatchObject({ status: 'completed' });
  const result = await handle.result();
  expect(result.channels.map((c) => [c.provider, c.status])).toEqual([
    ['twilio', 'failed'],
    ['vonage', 'completed'],
  ]);
  expect(twilio.cancel).not.toHaveBeenCalled();
});

test('Vonage silent auth → Twilio SMS → Vonage voice in one run', async () => {
  const handle = await start({
    channels: [
      { channel: 'silent_auth', provider: 'vonage' },
      { channel: 'sms', provider: 'twilio', timeoutSeconds: 2 },
      { channel: 'voice', provider: 'vonage' },
    ],
  });
  const onSilentAuth = await eventually(async () => {
    const s = await stateOf(handle);
    return s.status === 'action_pending' && s;
  });
  expect(onSilentAuth.checkUrl).toBe('https://vonage.example/check');
  expect(vonage.startVerification.mock.calls[0][0].steps.map((s) => s.channel)).toEqual(['silent_auth']);
  const vonageRef = (await vonage.startVerification.mock.results[0].value) as { requestId: string };
  await handle.signal(phoneContract.messages.providerEvent, vonageEvent(vonageRef.requestId, 'failed', 'silent_auth'));
  await eventually(() => twilio.startVerification.mock.calls.length === 1);
  expect(twilio.startVerification.mock.calls[0][0]).toMatchObject({ channel: 'sms', to: TO });
  const onSms = await stateOf(handle);
  expect(onSms).toMatchObject({ channel: 'sms', channelIndex: 1, status: 'pending' });
  expect(onSms.checkUrl).toBeUndefined();
  // The Twilio SMS times out: its verification is cancelled and Vonage calls.
  await eventually(() => vonage.startVerification.mock.calls.length === 2, 20_000);
  expect(twilio.cancel).toHaveBeenCalledWith((await lastSid()).sid);
  expect(vonage.startVerification.mock.calls[1][0].steps.map((s) => s.channel)).toEqual(['voice']);
  expect(await check(handle, '1234')).toMatchObject({ status: 'completed' });
  const result = await handle.result();
  expect(result.channels.map((c) => [c.channel, c.provider, c.status])).toEqual([
    ['silent_auth', 'vonage', 'failed'],
    ['sms', 'twilio', 'failed'],
    ['voice', 'vonage', 'completed'],
  ]);
  const refs = (await handle.describe()).typedSearchAttributes.get(SA_PROVIDER_REF) as string[];
  expect(refs.map((r) => r.split(':')[0])).toEqual(['vonage', 'twilio', 'vonage']);
  await saveHistory('phone-vonage-twilio-vonage', handle);
});

test('Twilio silent auth: the SNA URL is the check URL; pending until Twilio approves; a code is not taken', async () => {
  let polls = 0;
  twilio.checkSilentAuth.mockImplementation(async () => (++polls < 3 ? 'pending' : 'completed'));
  const handle = await start({ channels: [{ channel: 'silent_auth', provider: 'twilio' }, { channel: 'sms' }] });
  const pending = await eventually(async () => {
    const s = await stateOf(handle);
    return s.status === 'action_pending' && s;
  });
  const sid = (await lastSid()).sid;
  expect(pending.checkUrl).toBe(`https://twilio.example/sna/${sid}`);
  const refused = await check(handle, '123456').catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
  expect(((refused as WorkflowUpdateFailedError).cause as ApplicationFailure).type).toBe(FailureType.CodeNotSupported);
  const result = await handle.result();
  expect(result).toMatchObject({ status: 'completed', reason: 'verified', channel: 'silent_auth' });
  expect(twilio.checkSilentAuth.mock.calls).toEqual([[sid], [sid], [sid]]);
  expect(twilio.checkCode).not.toHaveBeenCalled();
  expect(vonage.startVerification).not.toHaveBeenCalled();
});

test('Twilio silent auth the carrier cannot confirm: cancelled there, the next channel starts at once', async () => {
  twilio.checkSilentAuth.mockResolvedValue('failed');
  const handle = await start({
    channels: [
      { channel: 'silent_auth', provider: 'twilio', timeoutSeconds: 900 },
      { channel: 'sms', provider: 'twilio' },
    ],
  });
  await eventually(() => twilio.startVerification.mock.calls.length === 2, 20_000);
  const sna = (await twilio.startVerification.mock.results[0].value) as { sid: string };
  expect(twilio.cancel).toHaveBeenCalledWith(sna.sid);
  expect(twilio.checkSilentAuth).toHaveBeenCalledTimes(1);
  expect(await check(handle, '123456')).toMatchObject({ status: 'completed' });
});

test('Twilio Fraud Guard / geo permission block → that channel fails `blocked` at once; with none left, failed / blocked', async () => {
  twilio.startVerification.mockRejectedValue(
    ApplicationFailure.create({ type: FailureType.ChannelBlocked, message: '60410', nonRetryable: true }),
  );
  const handle = await start({
    channels: [
      { channel: 'sms', provider: 'twilio', timeoutSeconds: 900 },
      { channel: 'sms', provider: 'vonage', timeoutSeconds: 900 },
    ],
  });
  await eventually(() => vonage.startVerification.mock.calls.length === 1);
  expect((await stateOf(handle)).channels.map((c) => [c.status, c.reason])).toEqual([
    ['failed', 'blocked'],
    ['active', undefined],
  ]);
  await handle.cancel();

  const only = await start({ channels: [{ channel: 'whatsapp', provider: 'twilio' }] });
  expect(await only.result()).toMatchObject({ status: 'failed', reason: 'blocked' });
});

test('Twilio rejects the destination (60200 To) → failed / invalid_destination, no fallback', async () => {
  twilio.startVerification.mockRejectedValue(
    ApplicationFailure.create({ type: FailureType.InvalidDestination, message: '60200', nonRetryable: true }),
  );
  const handle = await start({ channels: [{ channel: 'sms', provider: 'twilio' }, { channel: 'voice' }] });
  expect(await handle.result()).toMatchObject({ status: 'failed', reason: 'invalid_destination' });
  expect(vonage.startVerification).not.toHaveBeenCalled();
});

test('Twilio max check attempts (60202) → failed / max_attempts (Twilio already ended that verification)', async () => {
  twilio.checkCode.mockResolvedValue('too_many_attempts');
  const handle = await start({ channels: [{ channel: 'sms', provider: 'twilio' }] });
  await eventually(() => twilio.startVerification.mock.calls.length === 1);
  expect(await check(handle, '111111')).toEqual({ status: 'failed', attemptsLeft: 0, reason: 'max_attempts' });
  expect(await handle.result()).toMatchObject({ status: 'failed', reason: 'max_attempts' });
  expect(twilio.cancel).not.toHaveBeenCalled();
});

test('20404 on a check of a verification we did not complete: it expired there, the next channel starts', async () => {
  twilio.checkCode.mockResolvedValueOnce('not_found');
  const handle = await start({
    channels: [
      { channel: 'sms', provider: 'twilio', timeoutSeconds: 900 },
      { channel: 'sms', provider: 'vonage' },
    ],
  });
  await eventually(() => twilio.startVerification.mock.calls.length === 1);
  expect(await check(handle, '123456')).toEqual({ status: 'expired', attemptsLeft: 5 });
  await eventually(() => vonage.startVerification.mock.calls.length === 1);
  expect(twilio.cancel).not.toHaveBeenCalled(); // gone there already: nothing to release
  expect(await check(handle, '1234')).toMatchObject({ status: 'completed' });
});

test('cancel releases the Twilio verification', async () => {
  const handle = await start({ channels: [{ channel: 'email', provider: 'twilio', to: 'someone@example.com' }] });
  await eventually(() => twilio.startVerification.mock.calls.length === 1);
  expect(twilio.startVerification.mock.calls[0][0]).toMatchObject({ channel: 'email', to: 'someone@example.com' });
  await handle.executeUpdate(phoneContract.messages.cancel, { args: [{}] });
  expect(await handle.result()).toMatchObject({ status: 'cancelled' });
  expect(twilio.cancel).toHaveBeenCalledWith((await lastSid()).sid);
});
