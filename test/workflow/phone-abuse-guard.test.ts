import { randomUUID } from 'node:crypto';
import { type Client, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { AbuseGuard, GuardVerdict } from '../../activities/abuse-guard';
import type { SmsGateways } from '../../providers/sms-gateway/http-gateways';
import type { VonageStartParams, VonageVerify } from '../../providers/vonage/verify';
import { phoneContract, type PhoneVerificationInput } from '../../workflows/contract';
import { phoneVerification } from '../../workflows/phone/workflow';
import { startFakeWorker, type FakeWorker } from '../support/fake-worker';
import { eventually } from '../support/stack';

/**
 * How `phoneVerification` meets the abuse guard, on a real dev server with fake adapters and a fake guard: which sends
 * and checks it counts (and with which client), and what a refusal does — an update's refusal goes back to the caller
 * and leaves the run as it was; a send nobody asked for ends the run `failed` / `rate_limited`.
 */
const vonage: jest.Mocked<VonageVerify> = {
  startVerification: jest.fn<ReturnType<VonageVerify['startVerification']>, [VonageStartParams]>(),
  checkCode: jest.fn<ReturnType<VonageVerify['checkCode']>, [string, string]>(),
  nextWorkflow: jest.fn<Promise<boolean>, [string]>(),
  cancel: jest.fn<Promise<boolean>, [string]>(),
};
const gateways: jest.Mocked<SmsGateways> = { names: jest.fn(() => ['gw']), send: jest.fn() };
const allowed: GuardVerdict = { allowed: true };
const refused = (scope: 'destination' | 'failed_checks'): GuardVerdict => ({
  allowed: false,
  scope,
  retryAfterSeconds: 42,
});
const guard: jest.Mocked<AbuseGuard> = {
  consumeSend: jest.fn(),
  refundSend: jest.fn(),
  peekSend: jest.fn(),
  checkAllowed: jest.fn(),
  recordFailedCheck: jest.fn(),
  reserveCheck: jest.fn(),
  releaseCheck: jest.fn(),
  noteCompletedByCheck: jest.fn(),
  completedByCheck: jest.fn(),
  startBegun: jest.fn(),
  forgetStart: jest.fn(),
  close: jest.fn(),
};

let client: Client;
let worker: FakeWorker;
const taskQueue = `guard-wf-test-${randomUUID()}`;
beforeAll(async () => {
  worker = await startFakeWorker(
    { vonage, smsGateways: gateways, otp: { hmacSecret: Buffer.from('x'.repeat(32)) }, guard },
    taskQueue,
  );
  client = worker.client;
});
afterAll(async () => {
  await worker?.stop();
});

let seq = 0;
beforeEach(() => {
  jest.resetAllMocks();
  vonage.startVerification.mockImplementation(async () => ({ requestId: `req-${++seq}` }));
  vonage.nextWorkflow.mockResolvedValue(true);
  vonage.cancel.mockResolvedValue(true);
  vonage.checkCode.mockResolvedValue('invalid_code');
  gateways.names.mockReturnValue(['gw']);
  gateways.send.mockResolvedValue({ gateway: 'gw', status: 200 });
  guard.consumeSend.mockResolvedValue(allowed);
  guard.checkAllowed.mockResolvedValue(allowed);
  guard.reserveCheck.mockResolvedValue(allowed);
  guard.startBegun.mockResolvedValue(false);
});

const TO = '+14155550100';
const start = (input: Partial<PhoneVerificationInput>) =>
  client.workflow.start(phoneVerification, {
    workflowId: `phone-${randomUUID().replace(/-/g, '')}`,
    taskQueue,
    args: [{ to: TO, brand: 'Acme', channels: [{ channel: 'sms' }], ...input }],
  });
const rejection = (err: unknown) => (err as WorkflowUpdateFailedError).cause as { type?: string; details?: unknown[] };

test("a Temporal caller's sends are all counted (client `temporal`); the REST API's first send is not counted twice", async () => {
  const own = await start({});
  await eventually(
    async () =>
      (await own.query(phoneContract.messages.getState)).status === 'pending' &&
      vonage.startVerification.mock.calls.length === 1,
  );
  expect(guard.consumeSend).toHaveBeenCalledWith('temporal', TO);
  await own.cancel();

  guard.consumeSend.mockClear();
  const rest = await start({
    client: 'acme',
    firstSendCounted: true,
    channels: [{ channel: 'sms' }, { channel: 'voice' }],
  });
  await eventually(async () => (await rest.query(phoneContract.messages.getState)).channels[0].status === 'active');
  expect(guard.consumeSend).not.toHaveBeenCalled();
  await rest.executeUpdate(phoneContract.messages.nextChannel, { args: [] });
  expect(guard.consumeSend).toHaveBeenCalledWith('acme', TO);
  await rest.cancel();
});

test('a Vonage start made in the workflow task that fails retryably goes on as the activity, under the same key, counted once', async () => {
  vonage.startVerification.mockRejectedValueOnce(
    ApplicationFailure.create({ type: 'ProviderUnavailable', message: 'HTTP 503', nextRetryDelay: 100 }),
  );
  guard.startBegun.mockResolvedValueOnce(false).mockResolvedValue(true);
  const handle = await start({});
  await eventually(async () => (await handle.query(phoneContract.messages.getState)).channels[0].status === 'active');
  const { runId } = await handle.describe();
  expect(guard.startBegun.mock.calls).toEqual([[`${runId}:0`], [`${runId}:0`]]);
  expect(guard.consumeSend).toHaveBeenCalledTimes(1);
  expect(vonage.startVerification).toHaveBeenCalledTimes(2);
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
  expect(scheduled).toEqual(['vonageStartVerification']);
  expect(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toHaveLength(1);
  await handle.cancel();
});

test('the first send refused: nothing goes to the provider, the run fails rate_limited', async () => {
  guard.consumeSend.mockResolvedValue(refused('destination'));
  const handle = await start({});
  expect(await handle.result()).toMatchObject({ status: 'failed', reason: 'rate_limited' });
  expect(vonage.startVerification).not.toHaveBeenCalled();
});

test("a timer's fallback refused: the run fails rate_limited and sends nothing more", async () => {
  const handle = await start({ channels: [{ channel: 'sms', timeoutSeconds: 1 }, { channel: 'voice' }] });
  await eventually(async () => (await handle.query(phoneContract.messages.getState)).channels[0].status === 'active');
  guard.consumeSend.mockResolvedValue(refused('destination'));
  expect(await handle.result()).toMatchObject({ status: 'failed', reason: 'rate_limited' });
  expect(vonage.nextWorkflow).not.toHaveBeenCalled();
});

test('nextChannel refused across providers: 429 to the caller, the run stays on its channel with its request', async () => {
  const handle = await start({
    channels: [{ channel: 'sms' }, { channel: 'sms', provider: 'sms_gateway', gateway: 'gw' }],
  });
  await eventually(async () => (await handle.query(phoneContract.messages.getState)).channels[0].status === 'active');
  guard.consumeSend.mockResolvedValueOnce(refused('destination'));
  const err = await handle.executeUpdate(phoneContract.messages.nextChannel, { args: [] }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  expect(rejection(err)).toMatchObject({
    type: 'RateLimited',
    details: [{ scope: 'destination', retryAfterSeconds: 42 }],
  });
  expect(await handle.query(phoneContract.messages.getState)).toMatchObject({
    status: 'pending',
    channelIndex: 0,
    channel: 'sms',
  });
  expect(vonage.cancel).not.toHaveBeenCalled();
  // Allowed now: the move reserves its send first, then the new request goes out without being counted again.
  const moved = await handle.executeUpdate(phoneContract.messages.nextChannel, { args: [] });
  expect(moved).toMatchObject({ channelIndex: 1 });
  expect(vonage.cancel).toHaveBeenCalledTimes(1);
  expect(gateways.send).toHaveBeenCalledTimes(1);
  expect(guard.consumeSend).toHaveBeenCalledTimes(3); // the start, the refused move, the allowed move
  await handle.cancel();
});

test('a check refused for too many failed checks: not evaluated, no attempt spent; a wrong code keeps its count', async () => {
  const handle = await start({});
  await eventually(async () => (await handle.query(phoneContract.messages.getState)).channels[0].status === 'active');
  const wrong = await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '0000' }] });
  expect(wrong).toMatchObject({ status: 'invalid_code', attemptsLeft: 4 });
  expect(guard.reserveCheck).toHaveBeenCalledWith('temporal', TO);
  expect(guard.releaseCheck).not.toHaveBeenCalled(); // a wrong code keeps the failed check it reserved
  guard.reserveCheck.mockResolvedValue(refused('failed_checks'));
  const err = await handle
    .executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '1234' }] })
    .catch((e: unknown) => e);
  expect(rejection(err)).toMatchObject({ type: 'RateLimited', details: [{ scope: 'failed_checks' }] });
  expect(vonage.checkCode).toHaveBeenCalledTimes(1);
  expect(await handle.query(phoneContract.messages.getState)).toMatchObject({ status: 'pending', attemptsLeft: 4 });
  await handle.cancel();
});
