import { randomUUID } from 'node:crypto';
import { type Client, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type {
  PushChallenge,
  PushChallengeParams,
  PushFactor,
  ResendOutcome,
  TwilioPush,
} from '../../providers/twilio/push';
import type { VonageStartParams, VonageVerify } from '../../providers/vonage/verify';
import {
  FailureType,
  phoneContract,
  pushContract,
  pushEnrollmentContract,
  type PushProviderEvent,
  type PushVerificationInput,
  type PushVerificationState,
  SA_KIND,
  SA_PROVIDER,
  SA_PROVIDER_REF,
  SA_STATUS,
} from '../../workflows/contract';
import { pushEnrollment } from '../../workflows/push/enrollment';
import { pushVerification } from '../../workflows/push/workflow';
import { saveHistory } from '../support/histories';
import { eventually } from '../support/stack';
import { startFakeWorker, type FakeWorker } from '../support/fake-worker';

/**
 * `pushVerification` and `pushEnrollment` on a real Temporal dev server, with the Twilio adapter (and, for the
 * phone fallback child, the Vonage adapter) replaced by typed fakes. The adapters themselves are tested against the
 * emulator in test/sandbox.
 */
const push: jest.Mocked<TwilioPush> = {
  createAccessToken: jest.fn(),
  listFactors: jest.fn<Promise<PushFactor[]>, [string]>(),
  newestVerifiedFactor: jest.fn<Promise<PushFactor | undefined>, [string]>(),
  createChallenge: jest.fn<Promise<PushChallenge>, [PushChallengeParams]>(),
  fetchChallenge: jest.fn<Promise<PushChallenge>, [string, string]>(),
  resendNotification: jest.fn<Promise<ResendOutcome>, [string, string, number]>(),
};
const vonage: jest.Mocked<VonageVerify> = {
  startVerification: jest.fn<ReturnType<VonageVerify['startVerification']>, [VonageStartParams]>(),
  checkCode: jest.fn<ReturnType<VonageVerify['checkCode']>, [string, string]>(),
  nextWorkflow: jest.fn<Promise<boolean>, [string]>(),
  cancel: jest.fn<Promise<boolean>, [string]>(),
};

let client: Client;
let fakeWorker: FakeWorker;
const taskQueue = `push-wf-test-${randomUUID()}`;

const FACTOR = 'YF0123456789abcdef0123456789abcdef';
const IDENTITY = 'user-0b7c1f52-9a3e-4d2f';
/** An identity with no enrollment at all: it has no verified (approved) factor. */
const NOBODY = 'user-nobody-enrolled-0000';

beforeAll(async () => {
  fakeWorker = await startFakeWorker({ twilio: push, vonage }, taskQueue);
  client = fakeWorker.client;
  // IDENTITY's enrollment knows FACTOR as verified: push verifications challenge only factors their enrollment approved.
  const enrollment = await client.workflow.signalWithStart(pushEnrollment, {
    workflowId: pushEnrollmentContract.id(IDENTITY),
    taskQueue,
    args: [{ identity: IDENTITY }],
    signal: pushEnrollmentContract.messages.providerEvent,
    signalArgs: [
      {
        eventId: `twilio:${randomUUID()}`,
        provider: 'twilio',
        type: 'factor.verified',
        identity: IDENTITY,
        factorSid: FACTOR,
      },
    ],
  });
  await eventually(async () => (await enrollment.query(pushEnrollmentContract.messages.getState)).verified);
});

afterAll(async () => {
  await client?.workflow
    .getHandle(pushEnrollmentContract.id(IDENTITY))
    .terminate('tests over')
    .catch(() => undefined);
  await fakeWorker?.stop();
});

let challengeSeq = 0;
const challengeSid = (n: number) => `YC${n.toString(16).padStart(32, '0')}`;
beforeEach(() => {
  jest.resetAllMocks();
  push.newestVerifiedFactor.mockResolvedValue({ sid: FACTOR, status: 'verified', factorType: 'push' });
  push.createChallenge.mockImplementation(async (p) => ({
    sid: challengeSid(++challengeSeq),
    factorSid: p.factorSid,
    status: 'pending',
    expirationDate: p.expirationDate,
  }));
  push.fetchChallenge.mockImplementation(async (_identity, sid) => ({ sid, factorSid: FACTOR, status: 'pending' }));
  push.resendNotification.mockResolvedValue('sent');
  vonage.startVerification.mockResolvedValue({ requestId: `req-${randomUUID()}` });
  vonage.checkCode.mockImplementation(async (_id, code) => (code === '1234' ? 'completed' : 'invalid_code'));
  vonage.cancel.mockResolvedValue(true);
  vonage.nextWorkflow.mockResolvedValue(true);
});

const FALLBACK = { to: '+14155550100', brand: 'Acme', channels: [{ channel: 'sms' as const }] };
const newId = () => `push-${randomUUID().replace(/-/g, '')}`;
const start = (input: Partial<PushVerificationInput> = {}, id = newId()) =>
  client.workflow.start(pushVerification, {
    workflowId: id,
    taskQueue,
    args: [{ identity: IDENTITY, message: 'Log in to Acme?', pollIntervalSeconds: 600, ...input }],
  });
const challengeEvent = (
  sid: string,
  type: 'challenge.approved' | 'challenge.denied',
  eventId: string = randomUUID(),
): PushProviderEvent => ({
  eventId: `twilio:${eventId}`,
  provider: 'twilio',
  type,
  identity: IDENTITY,
  factorSid: FACTOR,
  challengeSid: sid,
});
const pendingChallenge = async (handle: {
  query: (q: typeof pushContract.messages.getState) => Promise<PushVerificationState>;
}) =>
  eventually(async () => {
    const s = await handle.query(pushContract.messages.getState);
    return s.status === 'action_pending' && s.challengeSid ? s : undefined;
  });

test('approved webhook → completed; duplicates and events of other challenges are ignored; search attributes', async () => {
  const handle = await start({ fields: [{ label: 'Location', value: 'Lisbon' }], hiddenDetails: { ip: '10.0.0.1' } });
  const state = await pendingChallenge(handle);
  expect(push.newestVerifiedFactor).not.toHaveBeenCalled();
  expect(push.createChallenge).toHaveBeenCalledTimes(1);
  expect(push.createChallenge.mock.calls[0][0]).toEqual({
    identity: IDENTITY,
    factorSid: FACTOR,
    message: 'Log in to Acme?',
    fields: [{ label: 'Location', value: 'Lisbon' }],
    // The run's ID rides along (Twilio echoes hidden_details in its webhooks, which are routed by it).
    hiddenDetails: { ip: '10.0.0.1', verifyflow_id: handle.workflowId },
    expirationDate: state.expiresAt,
  });
  expect(state).toMatchObject({ kind: 'push', factorSid: FACTOR, resends: 0 });

  await handle.signal(pushContract.messages.providerEvent, challengeEvent(challengeSid(9999), 'challenge.denied')); // another challenge
  const approved = challengeEvent(state.challengeSid!, 'challenge.approved', 'same-uuid');
  await handle.signal(pushContract.messages.providerEvent, approved);
  await handle.signal(pushContract.messages.providerEvent, approved); // duplicate delivery
  const result = await handle.result();
  expect(result).toMatchObject({ status: 'completed', reason: 'verified', challengeSid: state.challengeSid });
  expect(result.fallbackId).toBeUndefined();
  expect(push.createChallenge).toHaveBeenCalledTimes(1);

  const desc = await handle.describe();
  expect(desc.typedSearchAttributes.get(SA_KIND)).toBe('push');
  expect(desc.typedSearchAttributes.get(SA_STATUS)).toBe('completed');
  expect(desc.typedSearchAttributes.get(SA_PROVIDER)).toBe('twilio');
  expect(desc.typedSearchAttributes.get(SA_PROVIDER_REF)).toEqual([`twilio:${state.challengeSid}`]);
  await saveHistory('push-approved-release-2026-12-05-push', handle);
});

test('a webhook that overtakes the challenge activity result is held until the run knows its challenge', async () => {
  const id = newId();
  push.createChallenge.mockImplementation(async (p) => {
    const sid = challengeSid(++challengeSeq);
    // Routed by the ID in the hidden details, the answer can reach the run before this activity's result does.
    await client.workflow
      .getHandle(id)
      .signal(pushContract.messages.providerEvent, challengeEvent(sid, 'challenge.approved'));
    return { sid, factorSid: p.factorSid, status: 'pending', expirationDate: p.expirationDate };
  });
  const handle = await start({}, id);
  expect(await handle.result()).toMatchObject({ status: 'completed', reason: 'verified' });
  // While it waited nothing was published (a REST start says it all); the ref goes out with the final status.
  const desc = await handle.describe();
  expect(desc.typedSearchAttributes.get(SA_PROVIDER_REF)).toEqual([`twilio:${challengeSid(challengeSeq)}`]);
});

test('hidden details with no room left for the run ID: the challenge ref is published at once (webhooks find it)', async () => {
  const full = { note: 'x'.repeat(1024 - JSON.stringify({ note: '' }).length) };
  expect(JSON.stringify(full)).toHaveLength(1024);
  const handle = await start({ hiddenDetails: full });
  const state = await pendingChallenge(handle);
  expect(push.createChallenge.mock.calls[0][0].hiddenDetails).toEqual(full);
  const ref = [`twilio:${state.challengeSid}`];
  await eventually(async () => {
    const attrs = (await handle.describe()).typedSearchAttributes;
    return JSON.stringify(attrs.get(SA_PROVIDER_REF)) === JSON.stringify(ref) || undefined;
  });
  await handle.signal(pushContract.messages.providerEvent, challengeEvent(state.challengeSid!, 'challenge.approved'));
  expect(await handle.result()).toMatchObject({ status: 'completed', reason: 'verified' });
});

test('denied → failed / user_denied, and no fallback even when one is configured', async () => {
  const handle = await start({ fallback: FALLBACK });
  const state = await pendingChallenge(handle);
  await handle.signal(pushContract.messages.providerEvent, challengeEvent(state.challengeSid!, 'challenge.denied'));
  expect(await handle.result()).toMatchObject({ status: 'failed', reason: 'user_denied' });
  expect(vonage.startVerification).not.toHaveBeenCalled();
});

test('denied with fallbackOnDeny → the phone fallback runs', async () => {
  const id = newId();
  const handle = await start({ fallback: FALLBACK, fallbackOnDeny: true }, id);
  const state = await pendingChallenge(handle);
  await handle.signal(pushContract.messages.providerEvent, challengeEvent(state.challengeSid!, 'challenge.denied'));
  const child = client.workflow.getHandle(`phone-${id.slice('push-'.length)}`);
  await eventually(async () => (await child.query(phoneContract.messages.getState)).status === 'pending');
  expect(await child.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '1234' }] })).toMatchObject({
    status: 'completed',
  });
  expect(await handle.result()).toMatchObject({ status: 'completed', reason: 'verified', pushReason: 'user_denied' });
});

test('expiry → one last poll, then the phone fallback child; its result becomes ours', async () => {
  const id = newId();
  const handle = await start({ expirySeconds: 3, fallback: FALLBACK }, id);
  await pendingChallenge(handle);
  const fallingBack = await eventually(async () => {
    const s = await handle.query(pushContract.messages.getState);
    return s.fallbackId ? s : undefined;
  });
  const childId = `phone-${id.slice('push-'.length)}`;
  expect(fallingBack).toMatchObject({ status: 'pending', pushReason: 'expired', fallbackId: childId });
  expect(childId.length).toBeLessThanOrEqual(40);
  expect(push.fetchChallenge).toHaveBeenCalledTimes(1); // the last look at expiry
  expect(push.createChallenge).toHaveBeenCalledTimes(1);

  const child = client.workflow.getHandle(childId);
  // `pending` is also the child's state before its provider request exists: wait for the request itself.
  await eventually(() => vonage.startVerification.mock.calls.length === 1);
  expect(vonage.startVerification.mock.calls[0][0]).toMatchObject({ brand: 'Acme', steps: [{ channel: 'sms' }] });
  expect(await child.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '9999' }] })).toMatchObject({
    status: 'invalid_code',
  });
  expect(await child.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '1234' }] })).toMatchObject({
    status: 'completed',
  });
  const result = await handle.result();
  expect(result).toMatchObject({ status: 'completed', reason: 'verified', pushReason: 'expired', fallbackId: childId });
  await saveHistory('push-expired-fallback', handle);
});

test('an approval whose webhook got lost is still seen at expiry (last poll) and wins over the fallback', async () => {
  push.fetchChallenge.mockImplementation(async (_identity, sid) => ({ sid, factorSid: FACTOR, status: 'approved' }));
  const handle = await start({ expirySeconds: 3, fallback: FALLBACK });
  expect(await handle.result()).toMatchObject({ status: 'completed', reason: 'verified' });
  expect(vonage.startVerification).not.toHaveBeenCalled();
});

test('expiry without a fallback → expired / expired', async () => {
  const handle = await start({ expirySeconds: 3 });
  expect(await handle.result()).toMatchObject({ status: 'expired', reason: 'expired' });
});

test('no verified factor: no challenge; without a fallback → failed / no_verified_factor', async () => {
  const handle = await start({ identity: NOBODY });
  expect(await handle.result()).toMatchObject({ status: 'failed', reason: 'no_verified_factor' });
  expect(push.createChallenge).not.toHaveBeenCalled();
});

test('a named factor the enrollment has not approved gets no challenge → failed / no_verified_factor', async () => {
  const handle = await start({ factorSid: 'YF' + 'c'.repeat(32) });
  expect(await handle.result()).toMatchObject({ status: 'failed', reason: 'no_verified_factor' });
  expect(push.createChallenge).not.toHaveBeenCalled();
});

test('the given factor is unknown at Twilio (ProviderNotFound) → the phone fallback', async () => {
  push.createChallenge.mockRejectedValue(
    ApplicationFailure.create({ type: FailureType.ProviderNotFound, message: 'HTTP 404 20404', nonRetryable: true }),
  );
  const id = newId();
  const handle = await start({ factorSid: FACTOR, fallback: FALLBACK }, id);
  const child = client.workflow.getHandle(`phone-${id.slice('push-'.length)}`);
  await eventually(async () => (await child.query(phoneContract.messages.getState)).status === 'pending');
  expect(push.newestVerifiedFactor).not.toHaveBeenCalled();
  await child.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '1234' }] });
  expect(await handle.result()).toMatchObject({ status: 'completed', pushReason: 'no_verified_factor' });
});

test('unanswered → the notification of the same challenge is resent (never a second challenge), at most 4 times', async () => {
  const handle = await start({ resendAfterSeconds: 1, expirySeconds: 120 });
  const state = await pendingChallenge(handle);
  await eventually(
    async () => (await handle.query(pushContract.messages.getState)).resends === pushContract.defaults.maxResends,
    30_000,
  );
  expect(push.resendNotification).toHaveBeenCalledTimes(pushContract.defaults.maxResends);
  for (const [identity, sid, ttl] of push.resendNotification.mock.calls) {
    expect([identity, sid]).toEqual([IDENTITY, state.challengeSid]);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(120);
  }
  await new Promise((r) => setTimeout(r, 2500));
  expect(push.resendNotification).toHaveBeenCalledTimes(pushContract.defaults.maxResends);
  expect(push.createChallenge).toHaveBeenCalledTimes(1);
  await handle.signal(pushContract.messages.providerEvent, challengeEvent(state.challengeSid!, 'challenge.approved'));
  expect(await handle.result()).toMatchObject({ status: 'completed', resends: pushContract.defaults.maxResends });
});

test('Twilio says max sends reached → no more resends, the challenge still stands', async () => {
  push.resendNotification.mockResolvedValue('max_sends');
  const handle = await start({ resendAfterSeconds: 1, pollIntervalSeconds: 1, expirySeconds: 120 });
  await pendingChallenge(handle);
  await eventually(() => push.fetchChallenge.mock.calls.length >= 3);
  expect(push.resendNotification).toHaveBeenCalledTimes(1);
  expect((await handle.query(pushContract.messages.getState)).resends).toBe(0);
  expect(await handle.executeUpdate(pushContract.messages.cancel, { args: [{}] })).toMatchObject({
    status: 'cancelled',
    resends: 0,
  });
});

test('no webhook: polling the challenge on a durable timer finds the approval', async () => {
  let polls = 0;
  push.fetchChallenge.mockImplementation(async (_identity, sid) => ({
    sid,
    factorSid: FACTOR,
    status: ++polls >= 2 ? 'approved' : 'pending',
  }));
  const handle = await start({ pollIntervalSeconds: 1, expirySeconds: 120 });
  expect(await handle.result()).toMatchObject({ status: 'completed', reason: 'verified' });
  expect(push.fetchChallenge.mock.calls.length).toBeGreaterThanOrEqual(2);
  await saveHistory('push-polling', handle);
});

test('a poll that fails is retried at the next interval instead of failing the verification', async () => {
  let polls = 0;
  push.fetchChallenge.mockImplementation(async (_identity, sid) => {
    if (++polls === 1) throw ApplicationFailure.create({ type: 'ProviderNotFound', message: 'x', nonRetryable: true });
    return { sid, factorSid: FACTOR, status: 'denied' };
  });
  const handle = await start({ pollIntervalSeconds: 1, expirySeconds: 120 });
  expect(await handle.result()).toMatchObject({ status: 'failed', reason: 'user_denied' });
});

test('cancel during the fallback cancels the child; the closed run refuses further updates', async () => {
  const id = newId();
  const handle = await start({ identity: NOBODY, fallback: FALLBACK }, id);
  const child = client.workflow.getHandle(`phone-${id.slice('push-'.length)}`);
  await eventually(async () => (await child.query(phoneContract.messages.getState)).status === 'pending');
  const cancelled = await handle.executeUpdate(pushContract.messages.cancel, { args: [{ reason: 'user left' }] });
  expect(cancelled).toMatchObject({ status: 'cancelled', reason: 'cancelled', pushReason: 'no_verified_factor' });
  await eventually(async () => (await child.describe()).status.name !== 'RUNNING');
  // The run is closed: Temporal itself refuses the update.
  await expect(handle.executeUpdate(pushContract.messages.cancel, { args: [{}] })).rejects.toThrow(/already completed/);
});

test('invalid input (a phone number as identity) fails the workflow with a typed InvalidInput naming the field', async () => {
  const handle = await start({ identity: '+14155550100' });
  const err = await handle.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause.type).toBe(FailureType.InvalidInput);
  expect(cause.message).toMatch(/identity: must not be a phone number/);
});

describe('pushEnrollment', () => {
  const identity = () => `user-${randomUUID()}`;
  const factorEvent = (
    id: string,
    type: 'factor.created' | 'factor.verified' | 'factor.deleted',
    sid = FACTOR,
  ): PushProviderEvent => ({
    eventId: `twilio:${type}:${sid}:${id}`,
    provider: 'twilio',
    type,
    identity: id,
    factorSid: sid,
  });
  const enroll = (id: string, timeoutSeconds = 60) =>
    client.workflow.signalWithStart(pushEnrollment, {
      workflowId: pushEnrollmentContract.id(id),
      taskQueue,
      args: [{ identity: id }],
      signal: pushEnrollmentContract.messages.enrollmentRequested,
      signalArgs: [{ timeoutSeconds }],
    });

  test('token → factor.created → factor.verified; deleting the factor ends it `removed`', async () => {
    const id = identity();
    const handle = await enroll(id);
    expect(await handle.query(pushEnrollmentContract.messages.getState)).toMatchObject({
      status: 'pending',
      verified: false,
    });
    await handle.signal(pushEnrollmentContract.messages.providerEvent, factorEvent(id, 'factor.created'));
    await eventually(async () => (await handle.query(pushEnrollmentContract.messages.getState)).status === 'created');
    await handle.signal(pushEnrollmentContract.messages.providerEvent, factorEvent(id, 'factor.verified'));
    await handle.signal(pushEnrollmentContract.messages.providerEvent, factorEvent(id, 'factor.verified')); // duplicate
    const verified = await eventually(async () => {
      const s = await handle.query(pushEnrollmentContract.messages.getState);
      return s.verified && s;
    });
    expect(verified).toMatchObject({
      status: 'verified',
      factorSid: FACTOR,
      factors: [{ sid: FACTOR, status: 'verified' }],
    });
    expect(verified.deadline).toBeUndefined();
    // A second device enrolls: verified at Twilio, it waits for approval and is not the factor challenges go to.
    const second = 'YF' + 'b'.repeat(32);
    await handle.signal(pushEnrollmentContract.messages.providerEvent, factorEvent(id, 'factor.verified', second));
    const pending = await eventually(async () => {
      const s = await handle.query(pushEnrollmentContract.messages.getState);
      return s.factors.find((f) => f.sid === second)?.status === 'pending_approval' && s;
    });
    expect(pending.factorSid).toBe(FACTOR);
    // Approved with a push approved on the first factor, after the second was created: it becomes the newest.
    const approval = {
      factorSid: second,
      verificationId: 'push-x-approval',
      kind: 'push' as const,
      approvedOnFactorSid: FACTOR,
      completedAt: new Date(Date.now() + 1000).toISOString(),
    };
    await expect(
      handle.executeUpdate(pushEnrollmentContract.messages.approveFactor, {
        args: [{ ...approval, approvedOnFactorSid: second }],
      }),
    ).rejects.toMatchObject({
      cause: { type: 'ApprovalRefused', message: expect.stringMatching(/another verified factor/) },
    });
    await expect(
      handle.executeUpdate(pushEnrollmentContract.messages.approveFactor, {
        args: [{ ...approval, completedAt: '2000-01-01T00:00:00.000Z' }],
      }),
    ).rejects.toMatchObject({
      cause: { type: 'ApprovalRefused', message: expect.stringMatching(/before the factor was created/) },
    });
    const approved = await handle.executeUpdate(pushEnrollmentContract.messages.approveFactor, { args: [approval] });
    expect(approved.factors.find((f) => f.sid === second)).toMatchObject({
      status: 'verified',
      approvedBy: 'push-x-approval',
    });
    expect(approved.factorSid).toBe(second);
    await expect(
      handle.executeUpdate(pushEnrollmentContract.messages.approveFactor, { args: [approval] }),
    ).rejects.toMatchObject({
      cause: { type: 'ApprovalRefused', message: expect.stringMatching(/is verified, not pending/) },
    });
    await handle.signal(pushEnrollmentContract.messages.providerEvent, factorEvent(id, 'factor.deleted', second));
    await eventually(async () => (await handle.query(pushEnrollmentContract.messages.getState)).factorSid === FACTOR);
    await handle.signal(pushEnrollmentContract.messages.providerEvent, factorEvent(id, 'factor.deleted'));
    expect(await handle.result()).toMatchObject({ status: 'removed', verified: false, factors: [] });
    await saveHistory('push-enrollment', handle);
  });

  test('no factor.verified before the window closes → expired; a late factor.verified starts it again, verified', async () => {
    const id = identity();
    const handle = await enroll(id, 2);
    await handle.signal(pushEnrollmentContract.messages.providerEvent, factorEvent(id, 'factor.created'));
    expect(await handle.result()).toMatchObject({ status: 'expired', verified: false });
    const late = await client.workflow.signalWithStart(pushEnrollment, {
      workflowId: pushEnrollmentContract.id(id),
      taskQueue,
      args: [{ identity: id }],
      signal: pushEnrollmentContract.messages.providerEvent,
      signalArgs: [factorEvent(id, 'factor.verified')],
    });
    await eventually(async () => (await late.query(pushEnrollmentContract.messages.getState)).verified);
    await late.terminate('test over');
  });
});
