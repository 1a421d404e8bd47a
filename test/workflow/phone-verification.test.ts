import { randomUUID } from 'node:crypto';
import { type Client, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { VonageStartParams, VonageVerify } from '../../providers/vonage/verify';
import {
  FailureType,
  phoneContract,
  type PhoneVerificationInput,
  type ProviderEvent,
  SA_PROVIDER_REF,
  SA_STATUS,
} from '../../workflows/contract';
import { phoneVerification } from '../../workflows/phone/workflow';
import { saveHistory } from '../support/histories';
import { eventually } from '../support/stack';
import { startFakeWorker, type FakeWorker } from '../support/fake-worker';

/**
 * The workflow on a real Temporal dev server, with the Vonage adapter replaced by a typed fake (the adapter itself
 * is tested against the emulator elsewhere). Each test has its own workflow ID.
 */
const fake = {
  startVerification: jest.fn<ReturnType<VonageVerify['startVerification']>, [VonageStartParams]>(),
  checkCode: jest.fn<ReturnType<VonageVerify['checkCode']>, [string, string]>(),
  nextWorkflow: jest.fn<Promise<boolean>, [string]>(),
  cancel: jest.fn<Promise<boolean>, [string]>(),
};

let client: Client;
let fakeWorker: FakeWorker;
const taskQueue = `wf-test-${randomUUID()}`;

beforeAll(async () => {
  fakeWorker = await startFakeWorker({ vonage: fake }, taskQueue);
  client = fakeWorker.client;
});

afterAll(async () => {
  await fakeWorker?.stop();
});

let requestSeq = 0;
beforeEach(() => {
  jest.resetAllMocks();
  fake.startVerification.mockImplementation(async (p) => ({
    requestId: `req-${++requestSeq}`,
    checkUrl: p.steps[0].channel === 'silent_auth' ? 'https://sandbox.example/check' : undefined,
  }));
  fake.nextWorkflow.mockResolvedValue(true);
  fake.cancel.mockResolvedValue(true);
  fake.checkCode.mockImplementation(async (_id, code) => (code === '1234' ? 'completed' : 'invalid_code'));
});

const TO = '+14155550100';
const start = (input: Partial<PhoneVerificationInput> = {}, id = `phone-${randomUUID().replace(/-/g, '')}`) =>
  client.workflow.start(phoneVerification, {
    workflowId: id,
    taskQueue,
    args: [{ to: TO, brand: 'Acme', ...input } as PhoneVerificationInput],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
const event = (ref: string, status: ProviderEvent['status'], channel?: ProviderEvent['channel']): ProviderEvent => ({
  eventId: `vonage:${ref}:${channel ?? '-'}:${status}`,
  provider: 'vonage',
  ref,
  channel,
  status,
});
const lastRequestId = () => `req-${requestSeq}`;

test('SMS only: a wrong code, then the right one completes', async () => {
  const handle = await start({ channels: [{ channel: 'sms' }] });
  await eventually(() => fake.startVerification.mock.calls.length === 1);
  expect(fake.startVerification.mock.calls[0][0]).toMatchObject({ brand: 'Acme', steps: [{ channel: 'sms', to: TO }] });
  expect(fake.startVerification.mock.calls[0][0].clientRef).toBe(
    handle.workflowId.length <= 40 ? handle.workflowId : undefined,
  );

  expect(await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '9999' }] })).toEqual({
    status: 'invalid_code',
    attemptsLeft: 4,
  });
  expect(await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '1234' }] })).toEqual({
    status: 'completed',
    attemptsLeft: 4,
  });
  const result = await handle.result();
  expect(result).toMatchObject({ status: 'completed', reason: 'verified', channel: 'sms', attemptsLeft: 4 });
  expect(fake.cancel).not.toHaveBeenCalled();
  const desc = await handle.describe();
  expect(desc.typedSearchAttributes.get(SA_STATUS)).toBe('completed');
  expect(desc.typedSearchAttributes.get(SA_PROVIDER_REF)).toEqual([`vonage:${lastRequestId()}`]);
  // The start ran inside the first workflow task (PHONE_STARTS_PATCH), both checks inside their update's
  // (PHONE_RELEASE_PATCH): one patch marker, three local-activity markers, no activity task.
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
  expect(scheduled).toEqual([]);
  const markers = events.map((e) => e.markerRecordedEventAttributes?.markerName).filter(Boolean);
  expect(markers).toEqual(['core_patch', 'core_local_activity', 'core_local_activity', 'core_local_activity']);
  await saveHistory('phone-sms-happy-release-2026-12-05-starts', handle);
});

test('default channels: silent auth check URL, failed callback → SMS; duplicates and stale events are ignored', async () => {
  const handle = await start();
  const state = await eventually(async () => {
    const s = await handle.query(phoneContract.messages.getState);
    return s.status === 'action_pending' && s;
  });
  expect(state).toMatchObject({ channel: 'silent_auth', channelIndex: 0, checkUrl: 'https://sandbox.example/check' });
  expect(fake.startVerification.mock.calls[0][0].steps.map((s) => s.channel)).toEqual(['silent_auth', 'sms', 'voice']);
  const ref = lastRequestId();

  await handle.signal(phoneContract.messages.providerEvent, event(ref, 'failed', 'silent_auth'));
  await handle.signal(phoneContract.messages.providerEvent, event(ref, 'failed', 'silent_auth')); // duplicate delivery
  await handle.signal(phoneContract.messages.providerEvent, {
    ...event('req-old', 'completed', 'sms'),
    eventId: 'other',
  }); // another request
  const onSms = await eventually(async () => {
    const s = await handle.query(phoneContract.messages.getState);
    return s.channel === 'sms' && s;
  });
  expect(onSms).toMatchObject({ status: 'pending', channelIndex: 1 });
  expect(onSms.checkUrl).toBeUndefined();
  expect(onSms.channels.map((c) => c.status)).toEqual(['failed', 'active', 'waiting']);
  // A stale failure of a channel already left behind, delivered late with another id, changes nothing.
  await handle.signal(phoneContract.messages.providerEvent, {
    ...event(ref, 'failed', 'silent_auth'),
    eventId: 'late-duplicate',
  });
  expect((await handle.query(phoneContract.messages.getState)).channelIndex).toBe(1);

  expect(fake.nextWorkflow).not.toHaveBeenCalled(); // the provider advanced on its own
  expect(await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '1234' }] })).toMatchObject({
    status: 'completed',
  });
  expect(await handle.result()).toMatchObject({ status: 'completed', channel: 'sms' });
  await saveHistory('phone-silent-auth-fallback-fewer-actions', handle);
});

test('a callback that overtakes the activity result is held until its request id is known', async () => {
  fake.startVerification.mockImplementation(async (p) => {
    const requestId = `req-${++requestSeq}`;
    // The provider's "failed" callback reaches the workflow before this activity's result does.
    await client.workflow
      .getHandle(p.clientRef!)
      .signal(phoneContract.messages.providerEvent, event(requestId, 'failed', 'silent_auth'));
    return { requestId, checkUrl: 'https://sandbox.example/check' };
  });
  const handle = await start();
  const state = await eventually(async () => {
    const s = await handle.query(phoneContract.messages.getState);
    return s.channel === 'sms' && s;
  });
  expect(state.channels.map((c) => c.status)).toEqual(['failed', 'active', 'waiting']);
  await handle.executeUpdate(phoneContract.messages.cancel, { args: [{}] });
});

test('a code that arrives before the provider request is known waits for it instead of being refused', async () => {
  fake.startVerification.mockImplementation(async () => {
    await new Promise((r) => setTimeout(r, 1000));
    return { requestId: `req-${++requestSeq}` };
  });
  const handle = await start({ channels: [{ channel: 'sms' }] });
  const res = await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '1234' }] });
  expect(res).toEqual({ status: 'completed', attemptsLeft: 5 });
  expect(fake.checkCode).toHaveBeenCalledWith(lastRequestId(), '1234');
});

test('channel timeout moves to the next step with next_workflow', async () => {
  const handle = await start({
    channels: [
      { channel: 'sms', timeoutSeconds: 2 },
      { channel: 'voice', timeoutSeconds: 60 },
    ],
  });
  await eventually(() => fake.nextWorkflow.mock.calls.length === 1, 15_000);
  const state = await eventually(async () => {
    const s = await handle.query(phoneContract.messages.getState);
    return s.channel === 'voice' && s;
  });
  expect(state.channels.map((c) => c.status)).toEqual(['failed', 'active']);
  expect(fake.startVerification).toHaveBeenCalledTimes(1);
  await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '1234' }] });
  expect(await handle.result()).toMatchObject({ status: 'completed', channel: 'voice' });
  await saveHistory('phone-channel-timeout-fewer-actions', handle);
});

test('next_workflow refused (false): cancel that request and start a new one for the next channel', async () => {
  fake.nextWorkflow.mockResolvedValue(false);
  const handle = await start({ channels: [{ channel: 'sms' }, { channel: 'voice' }] });
  await eventually(() => fake.startVerification.mock.calls.length === 1);
  const first = lastRequestId();
  const moved = await handle.executeUpdate(phoneContract.messages.nextChannel, { args: [] });
  expect(moved).toMatchObject({ channel: 'voice', channelIndex: 1 });
  expect(fake.cancel).toHaveBeenCalledWith(first);
  await eventually(() => fake.startVerification.mock.calls.length === 2);
  expect(fake.startVerification.mock.calls[1][0].steps).toEqual([{ channel: 'voice', to: TO }]);
  await eventually(async () => (await handle.query(phoneContract.messages.getState)).status === 'pending');
  await handle.executeUpdate(phoneContract.messages.cancel, { args: [{}] });
  expect(await handle.result()).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
});

test('provider rejects the number (422) → failed / invalid_destination, no fallback', async () => {
  fake.startVerification.mockRejectedValue(
    ApplicationFailure.create({ type: FailureType.InvalidDestination, message: 'to is invalid', nonRetryable: true }),
  );
  const handle = await start();
  expect(await handle.result()).toMatchObject({ status: 'failed', reason: 'invalid_destination' });
  expect(fake.startVerification).toHaveBeenCalledTimes(1);
});

test('a provider that keeps failing on one channel group falls through to all_channels_failed', async () => {
  fake.startVerification.mockRejectedValue(
    ApplicationFailure.create({ type: FailureType.ProviderRejected, message: 'concurrent', nonRetryable: true }),
  );
  const handle = await start({ channels: [{ channel: 'sms' }] });
  expect(await handle.result()).toMatchObject({ status: 'failed', reason: 'all_channels_failed' });
});

test('a provider outage is retried for the time budget, not a number of attempts: 8 failures, then the SMS goes out', async () => {
  const outage = ApplicationFailure.create({ type: 'ProviderUnavailable', message: 'HTTP 503', nextRetryDelay: 20 });
  let failures = 0;
  fake.startVerification.mockImplementation(async () => {
    if (failures++ < 8) throw outage;
    return { requestId: `req-${++requestSeq}` };
  });
  const handle = await start({ channels: [{ channel: 'sms' }] });
  const state = await eventually(async () => {
    const s = await handle.query(phoneContract.messages.getState);
    return s.channels[0].status !== 'waiting' && s;
  }, 30_000);
  expect(state).toMatchObject({ status: 'pending', channel: 'sms', channels: [{ status: 'active' }] });
  expect(fake.startVerification).toHaveBeenCalledTimes(9);
  await handle.cancel();
});

test('an outage longer than providerRetrySeconds fails those channels over', async () => {
  fake.startVerification.mockRejectedValue(
    ApplicationFailure.create({ type: 'ProviderUnavailable', message: 'HTTP 503', nextRetryDelay: 200 }),
  );
  const handle = await start({ channels: [{ channel: 'sms' }], providerRetrySeconds: 8 });
  expect(await handle.result()).toMatchObject({ status: 'failed', reason: 'all_channels_failed' });
  // More than the 5 attempts of the other provider calls: the budget, not a count, ended it.
  expect(fake.startVerification.mock.calls.length).toBeGreaterThan(5);
});

describe('a check whose answer was lost (the provider completed the request, the activity is retried → 404)', () => {
  const lostAnswerThenGone = () => {
    let calls = 0;
    fake.checkCode.mockImplementation(async () => {
      if (calls++ === 0) throw ApplicationFailure.create({ type: 'ProviderUnavailable', message: 'socket hang up' });
      return 'not_found';
    });
  };

  test("the provider's completed callback decides: completed, not a failed channel", async () => {
    lostAnswerThenGone();
    const handle = await start({ channels: [{ channel: 'sms' }] });
    await eventually(() => fake.startVerification.mock.calls.length === 1);
    const ref = lastRequestId();
    const checking = handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '1234' }] });
    await eventually(() => fake.checkCode.mock.calls.length === 2, 20_000);
    await handle.signal(phoneContract.messages.providerEvent, event(ref, 'completed', 'sms'));
    expect(await checking).toMatchObject({ status: 'completed' });
    expect(await handle.result()).toMatchObject({ status: 'completed', reason: 'verified' });
  });

  test('without that callback the request is over after a short wait, as before', async () => {
    lostAnswerThenGone();
    const handle = await start({ channels: [{ channel: 'sms' }] });
    await eventually(() => fake.startVerification.mock.calls.length === 1);
    expect(await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '1234' }] })).toMatchObject({
      status: 'expired',
    });
    expect(await handle.result()).toMatchObject({ status: 'failed', reason: 'all_channels_failed' });
  });
});

test('wrong codes until locked → failed / max_attempts and the provider request is cancelled', async () => {
  const handle = await start({ channels: [{ channel: 'sms' }], maxCodeAttempts: 2 });
  await eventually(() => fake.startVerification.mock.calls.length === 1);
  expect(await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '0000' }] })).toEqual({
    status: 'invalid_code',
    attemptsLeft: 1,
  });
  expect(await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '0000' }] })).toEqual({
    status: 'failed',
    attemptsLeft: 0,
    reason: 'max_attempts',
  });
  expect(await handle.result()).toMatchObject({ status: 'failed', reason: 'max_attempts' });
  expect(fake.cancel).toHaveBeenCalledWith(lastRequestId());
  // The verification is over: a further code is rejected before it enters history.
  const err = await handle
    .executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '1234' }] })
    .catch((e) => e);
  expect(err).toBeInstanceOf(Error);
  await saveHistory('phone-max-attempts', handle);
});

test('overall expiry → expired and the provider request cancelled', async () => {
  const handle = await start({ channels: [{ channel: 'sms', timeoutSeconds: 600 }], expirySeconds: 5 });
  expect(await handle.result()).toMatchObject({ status: 'expired', reason: 'expired' });
  expect(fake.cancel).toHaveBeenCalledTimes(1);
});

test('cancel update → cancelled; then every update is rejected', async () => {
  const handle = await start({ channels: [{ channel: 'sms' }] });
  await eventually(() => fake.startVerification.mock.calls.length === 1);
  expect(
    await handle.executeUpdate(phoneContract.messages.cancel, { args: [{ reason: 'user closed the app' }] }),
  ).toMatchObject({
    status: 'cancelled',
  });
  const err = await handle.executeUpdate(phoneContract.messages.nextChannel, { args: [] }).catch((e) => e);
  expect(err).toBeInstanceOf(Error);
  expect(fake.cancel).toHaveBeenCalledTimes(1);
});

test('a Temporal cancellation (e.g. from a parent) ends the run as cancelled and releases the provider request', async () => {
  const handle = await start({ channels: [{ channel: 'sms' }] });
  await eventually(() => fake.startVerification.mock.calls.length === 1);
  await handle.cancel();
  expect(await handle.result()).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
  expect(fake.cancel).toHaveBeenCalledWith(lastRequestId());
});

test('user_rejected on silent auth → failed / user_rejected', async () => {
  const handle = await start();
  await eventually(() => fake.startVerification.mock.calls.length === 1);
  await handle.signal(phoneContract.messages.providerEvent, event(lastRequestId(), 'user_rejected', 'silent_auth'));
  expect(await handle.result()).toMatchObject({ status: 'failed', reason: 'user_rejected' });
  expect(fake.cancel).not.toHaveBeenCalled();
});

test('blocked (Vonage network block) → the next request starts at once, without waiting out the channel timeout', async () => {
  const channels = [
    { channel: 'sms', timeoutSeconds: 900 },
    { channel: 'voice', timeoutSeconds: 900 },
    { channel: 'whatsapp', timeoutSeconds: 900 },
    { channel: 'sms', timeoutSeconds: 900 },
  ] as PhoneVerificationInput['channels'];
  const handle = await start({ channels });
  await eventually(() => fake.startVerification.mock.calls.length === 1);
  const blocked = lastRequestId();
  await handle.signal(phoneContract.messages.providerEvent, event(blocked, 'blocked', 'sms'));
  await eventually(() => fake.startVerification.mock.calls.length === 2);
  const state = await handle.query(phoneContract.messages.getState);
  expect(state.channels.map((c) => [c.status, c.reason])).toEqual([
    ['failed', 'blocked'],
    ['failed', 'blocked'],
    ['failed', 'blocked'],
    ['active', undefined],
  ]);
  await handle.signal(phoneContract.messages.providerEvent, event(lastRequestId(), 'blocked', 'sms'));
  expect(await handle.result()).toMatchObject({ status: 'failed', reason: 'blocked' });
});

test('silent auth result for another request_id is refused (man-in-the-middle rule) and silent auth is abandoned', async () => {
  const handle = await start();
  await eventually(async () => (await handle.query(phoneContract.messages.getState)).status === 'action_pending');
  const res = await handle.executeUpdate(phoneContract.messages.checkCode, {
    args: [{ code: 'si9sfG', requestId: 'someone-elses' }],
  });
  expect(res).toMatchObject({ status: 'invalid_code', reason: 'request_id_mismatch', attemptsLeft: 4 });
  expect(fake.checkCode).not.toHaveBeenCalled();
  await eventually(async () => (await handle.query(phoneContract.messages.getState)).channel === 'sms');
  expect(fake.nextWorkflow).toHaveBeenCalledTimes(1);
  await handle.executeUpdate(phoneContract.messages.cancel, { args: [{}] });
});

test('silent auth with the matching request_id completes', async () => {
  const handle = await start();
  await eventually(async () => (await handle.query(phoneContract.messages.getState)).status === 'action_pending');
  const res = await handle.executeUpdate(phoneContract.messages.checkCode, {
    args: [{ code: '1234', requestId: lastRequestId() }],
  });
  expect(res.status).toBe('completed');
  expect(await handle.result()).toMatchObject({ status: 'completed', channel: 'silent_auth' });
});

test('malformed code is rejected by the validator and never reaches history', async () => {
  const handle = await start({ channels: [{ channel: 'sms' }] });
  await eventually(() => fake.startVerification.mock.calls.length === 1);
  const err = await handle
    .executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '12; DROP' }] })
    .catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  expect(String(err.cause?.message)).toMatch(/code: must be 4-32 letters or digits/);
  const history = await handle.fetchHistory();
  expect(JSON.stringify(history)).not.toContain('DROP');
  await handle.executeUpdate(phoneContract.messages.cancel, { args: [{}] });
});

test('a repeated start with the same ID joins the running verification instead of sending again', async () => {
  const id = `phone-ref-${randomUUID().slice(0, 8)}`;
  const a = await start({ channels: [{ channel: 'sms' }] }, id);
  const b = await start({ channels: [{ channel: 'sms' }] }, id);
  expect(b.firstExecutionRunId).toBe(a.firstExecutionRunId);
  await eventually(() => fake.startVerification.mock.calls.length === 1);
  await new Promise((r) => setTimeout(r, 500));
  expect(fake.startVerification).toHaveBeenCalledTimes(1);
  await a.executeUpdate(phoneContract.messages.cancel, { args: [{}] });
});

test('invalid input fails the workflow with a typed, non-retryable InvalidInput naming the field', async () => {
  const handle = await start({ to: '12345' });
  const err = await handle.result().catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(err.cause).toBeInstanceOf(ApplicationFailure);
  expect(err.cause.type).toBe(FailureType.InvalidInput);
  expect(err.cause.message).toMatch(/^invalid phoneVerification input: to: /);
});
