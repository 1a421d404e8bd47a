import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Client, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import express from 'express';
import type {
  StripeClientSecret,
  StripeCreateSessionParams,
  StripeIdentity,
  StripeSessionSnapshot,
} from '../../providers/stripe/identity';
import {
  FailureType,
  identityContract,
  type IdentityEventType,
  type IdentityProviderEvent,
  identityRedactionContract,
  type IdentityRedactionState,
  type IdentityVerificationInput,
  type IdentityVerificationState,
  type IdentityVerifiedOutputs,
  SA_KIND,
  SA_PROVIDER,
  SA_PROVIDER_REF,
  SA_STATUS,
} from '../../workflows/contract';
import { identityRedaction } from '../../workflows/identity/redaction';
import { identityVerification } from '../../workflows/identity/workflow';
import { EventsReceiver } from '../../sandbox/events-receiver';
import { saveHistory } from '../support/histories';
import { eventually } from '../support/stack';
import { startFakeWorker, type FakeWorker } from '../support/fake-worker';

/**
 * `identityVerification` and `identityRedaction` on a real Temporal dev server, with the Stripe adapter replaced by
 * a typed fake that keeps sessions the way Stripe does (idempotency keys, statuses, reports). The adapter itself is
 * tested against the emulator and stripe-mock elsewhere. Each test has its own reference, hence workflow ID.
 */
interface FakeSession {
  id: string;
  status: 'requires_input' | 'processing' | 'verified' | 'canceled';
  lastErrorCode: string | null;
  reportId: string | null;
  reports: number;
  redactionStatus: string | null;
  params: StripeCreateSessionParams;
}

const OUTPUTS: IdentityVerifiedOutputs = {
  firstName: 'Jenny',
  lastName: 'Rosen',
  dob: { year: 1990, month: 1, day: 15 },
  address: {
    line1: '1234 Main St.',
    line2: null,
    city: 'San Francisco',
    state: 'CA',
    postalCode: '94111',
    country: 'US',
  },
  idNumberType: null,
};

const sessions = new Map<string, FakeSession>();
const byKey = new Map<string, string>();
let sessionSeq = 0;
/** Create calls that fail (retryably) after Stripe accepted them, as a connection reset on the response would. */
let failAfterAccept = 0;
/** When the fake was last asked to redact (wall clock). */
let redactCalledAt = 0;

const snapshot = (s: FakeSession, withOutputs = false): StripeSessionSnapshot => ({
  id: s.id,
  status: s.status,
  lastErrorCode: s.lastErrorCode,
  lastErrorMessage: s.lastErrorCode ? `message for ${s.lastErrorCode}` : null,
  reportId: s.reportId,
  redactionStatus: s.redactionStatus,
  ...(withOutputs && s.status === 'verified' ? { verifiedOutputs: OUTPUTS } : {}),
});
const find = (id: string): FakeSession => {
  const s = sessions.get(id);
  if (!s) throw ApplicationFailure.create({ type: FailureType.ProviderNotFound, message: id, nonRetryable: true });
  return s;
};

const fake = {
  createSession: jest.fn<Promise<StripeSessionSnapshot>, [StripeCreateSessionParams]>(),
  retrieveSession: jest.fn<Promise<StripeSessionSnapshot>, [string, { expandOutputs?: boolean }?]>(),
  cancelSession: jest.fn<Promise<boolean>, [string]>(),
  redactSession: jest.fn<Promise<StripeSessionSnapshot>, [string]>(),
  clientSecret: jest.fn<Promise<StripeClientSecret>, [string]>(),
} satisfies StripeIdentity;

function installFake(): void {
  fake.createSession.mockImplementation(async (params) => {
    let id = byKey.get(params.idempotencyKey);
    if (!id) {
      id = `vs_fake_${++sessionSeq}`;
      byKey.set(params.idempotencyKey, id);
      sessions.set(id, {
        id,
        status: 'requires_input',
        lastErrorCode: null,
        reportId: null,
        reports: 0,
        redactionStatus: null,
        params,
      });
    }
    if (failAfterAccept > 0) {
      failAfterAccept--;
      throw ApplicationFailure.create({
        type: 'ProviderUnavailable',
        message: 'connection reset',
        nonRetryable: false,
      });
    }
    return snapshot(find(id));
  });
  fake.retrieveSession.mockImplementation(async (id, opts) => snapshot(find(id), !!opts?.expandOutputs));
  fake.cancelSession.mockImplementation(async (id) => {
    const s = find(id);
    if (s.status !== 'requires_input') return false;
    s.status = 'canceled';
    return true;
  });
  fake.redactSession.mockImplementation(async (id) => {
    redactCalledAt = Date.now();
    const s = find(id);
    if (s.status === 'processing' || s.status === 'canceled') {
      throw ApplicationFailure.create({ type: FailureType.ProviderRejected, message: s.status, nonRetryable: true });
    }
    if (s.status === 'requires_input') s.status = 'canceled';
    s.redactionStatus ??= 'processing';
    return snapshot(s);
  });
}

let client: Client;
let fakeWorker: FakeWorker;
const taskQueue = `wf-identity-${randomUUID()}`;

/** The client `acme`'s events endpoint (runs started with the `events` option send theirs here). */
const EVENTS_SECRET = 'whsec_' + Buffer.from('identity-events-test-secret-32-bytes').toString('base64');
const receiver = new EventsReceiver({ secrets: () => ({ acme: EVENTS_SECRET }) });
let receiverServer: Server;

beforeAll(async () => {
  receiverServer = await new Promise<Server>((resolve) => {
    const s = express()
      .use('/events', receiver.router())
      .listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(receiverServer.address() as AddressInfo).port}/events`;
  fakeWorker = await startFakeWorker({ stripe: fake, events: { acme: { url, secret: EVENTS_SECRET } } }, taskQueue);
  client = fakeWorker.client;
});

afterAll(async () => {
  await fakeWorker?.stop();
  receiverServer?.closeAllConnections();
  await new Promise((resolve) => receiverServer?.close(resolve));
});

beforeEach(() => {
  jest.resetAllMocks();
  failAfterAccept = 0;
  installFake();
});

const reference = () => `user-${randomUUID().slice(0, 8)}`;
const start = (input: Partial<IdentityVerificationInput> = {}) => {
  const ref = input.reference ?? reference();
  return client.workflow.start(identityVerification, {
    workflowId: identityContract.id(ref),
    taskQueue,
    args: [{ type: 'document', ...input, reference: ref } as IdentityVerificationInput],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
};
const stateOf = (handle: WorkflowHandle) => handle.query(identityContract.messages.getState);
const waitState = (handle: WorkflowHandle, pred: (s: IdentityVerificationState) => boolean) =>
  eventually(async () => {
    const s = await stateOf(handle);
    return pred(s) && s;
  });
/** The session the workflow created, once it is known. */
const sessionOf = async (handle: WorkflowHandle): Promise<FakeSession> => {
  const state = await waitState(handle, (s) => !!s.sessionId);
  return find(state.sessionId!);
};

let eventSeq = 0;
let clock = 1_700_000_000;
/** A normalized Stripe event with the session as it is now (what the webhook controller signals). */
function eventOf(s: FakeSession, type: IdentityEventType, created = ++clock): IdentityProviderEvent {
  return {
    eventId: `evt_${++eventSeq}`,
    provider: 'stripe',
    type,
    sessionId: s.id,
    created,
    sessionStatus: s.status,
    lastErrorCode: s.lastErrorCode,
    lastErrorMessage: s.lastErrorCode ? `message for ${s.lastErrorCode}` : null,
    reportId: s.reportId,
    redactionStatus: s.redactionStatus,
  };
}
/** Stripe's side of a submission: processing, then the outcome (a new report each time). */
function processing(s: FakeSession): IdentityProviderEvent {
  s.status = 'processing';
  s.lastErrorCode = null;
  return eventOf(s, 'processing');
}
function outcome(s: FakeSession, code: string | 'verified'): IdentityProviderEvent {
  s.reports++;
  s.reportId = `vr_${s.id}_${s.reports}`;
  if (code === 'verified') {
    s.status = 'verified';
    s.lastErrorCode = null;
    return eventOf(s, 'verified');
  }
  s.status = 'requires_input';
  s.lastErrorCode = code;
  return eventOf(s, 'requires_input');
}
const signal = (handle: WorkflowHandle, event: IdentityProviderEvent) =>
  handle.signal(identityContract.messages.providerEvent, event);

test('happy path: one session (metadata, idempotency key), processing → verified → completed with outputs in the result only', async () => {
  const handle = await start({
    options: { allowedTypes: ['passport'], requireMatchingSelfie: true },
    returnUrl: 'https://app.example/done',
  });
  const s = await sessionOf(handle);
  const { runId } = await handle.describe();
  expect(fake.createSession).toHaveBeenCalledTimes(1);
  expect(s.params).toEqual({
    type: 'document',
    options: { allowedTypes: ['passport'], requireMatchingSelfie: true },
    returnUrl: 'https://app.example/done',
    reference: handle.workflowId.replace(/^identity-/, ''),
    workflowId: handle.workflowId,
    idempotencyKey: `${handle.workflowId}:${runId}:create`,
  });
  const waiting = await waitState(handle, (st) => st.status === 'action_pending');
  expect(waiting).toMatchObject({ kind: 'identity', type: 'document', attempts: 0, maxAttempts: 3, sessionId: s.id });
  await eventually(async () => (await handle.describe()).typedSearchAttributes.get(SA_STATUS) === 'action_pending');
  const desc = await handle.describe();
  expect(desc.typedSearchAttributes.get(SA_KIND)).toBe('identity');
  expect(desc.typedSearchAttributes.get(SA_PROVIDER)).toBe('stripe');
  expect(desc.typedSearchAttributes.get(SA_PROVIDER_REF)).toEqual([`stripe:${s.id}`]);

  await signal(handle, processing(s));
  await waitState(handle, (st) => st.status === 'processing');
  await signal(handle, outcome(s, 'verified'));
  const result = await handle.result();
  expect(result).toMatchObject({ status: 'completed', reason: 'verified', sessionStatus: 'verified', attempts: 0 });
  expect(result.verifiedOutputs).toEqual(OUTPUTS);
  expect(fake.retrieveSession).toHaveBeenCalledWith(s.id, { expandOutputs: true });
  // Outputs never in the query state or the search attributes.
  expect(JSON.stringify(await stateOf(handle))).not.toContain('Rosen');
  expect((await handle.describe()).typedSearchAttributes.get(SA_STATUS)).toBe('completed');
  expect(fake.cancelSession).not.toHaveBeenCalled();
  await saveHistory('identity-verified-release', handle);
});

test('verified outputs travel in the completed event only to a client that opted into them', async () => {
  const optedIn = await start({ client: 'acme', events: { fields: ['verifiedOutputs'] } });
  const notOptedIn = await start({ client: 'acme', events: {} });
  for (const handle of [optedIn, notOptedIn]) {
    const s = await sessionOf(handle);
    await signal(handle, outcome(s, 'verified'));
    expect(await handle.result()).toMatchObject({ status: 'completed', verifiedOutputs: OUTPUTS });
  }
  /** The completed event as the receiver took it (signature verified with the library). */
  const completedEvent = (id: string) =>
    eventually(
      () =>
        receiver.received.find(
          (r) => r.webhookId.startsWith(`${id}~`) && r.verified && r.event?.type === 'verification.completed',
        )?.event,
      60_000,
    );
  expect((await completedEvent(optedIn.workflowId)).data).toMatchObject({
    verificationId: optedIn.workflowId,
    status: 'completed',
    verifiedOutputs: OUTPUTS,
  });
  const plain = await completedEvent(notOptedIn.workflowId);
  expect(plain.data).toMatchObject({ verificationId: notOptedIn.workflowId, status: 'completed' });
  expect(plain.data).not.toHaveProperty('verifiedOutputs');
  expect(JSON.stringify(plain)).not.toContain('Rosen');
  // Never before the outcome: the created event of the opted-in run has none either.
  const created = receiver.received.find(
    (r) => r.webhookId.startsWith(`${optedIn.workflowId}~`) && r.event?.type === 'verification.created',
  );
  expect(created?.event?.data).not.toHaveProperty('verifiedOutputs');
});

test('verified delivered before processing: completes; the late processing event changes nothing', async () => {
  const handle = await start();
  const s = await sessionOf(handle);
  const early = processing(s);
  const verified = outcome(s, 'verified');
  await signal(handle, verified);
  await signal(handle, early);
  expect(await handle.result()).toMatchObject({ status: 'completed', verifiedOutputs: OUTPUTS });
  expect(fake.retrieveSession).toHaveBeenCalledTimes(1);
});

test('duplicates ×3 (same event id, and the same report under other ids) count one attempt', async () => {
  const handle = await start();
  const s = await sessionOf(handle);
  await signal(handle, processing(s));
  const failed = outcome(s, 'document_expired');
  for (let i = 0; i < 3; i++) await signal(handle, failed);
  for (let i = 0; i < 3; i++) await signal(handle, { ...failed, eventId: `evt_redelivered_${i}_${s.id}` });
  const state = await waitState(handle, (st) => st.status === 'action_pending' && st.attempts > 0);
  expect(state).toMatchObject({ attempts: 1, lastError: { code: 'document_expired' } });
  expect((await stateOf(handle)).attempts).toBe(1);
  await handle.executeUpdate(identityContract.messages.cancel, { args: [{}] });
});

test('user-correctable codes: attempts counted on the same session, then failed with the last code at maxAttempts', async () => {
  const handle = await start({ maxAttempts: 2 });
  const s = await sessionOf(handle);
  await signal(handle, processing(s));
  await signal(handle, outcome(s, 'document_unverified_other'));
  const retrying = await waitState(handle, (st) => st.attempts === 1);
  expect(retrying).toMatchObject({ status: 'action_pending', lastError: { code: 'document_unverified_other' } });
  await signal(handle, processing(s));
  await signal(handle, outcome(s, 'selfie_face_mismatch'));
  const result = await handle.result();
  expect(result).toMatchObject({ status: 'failed', reason: 'selfie_face_mismatch', attempts: 2 });
  expect(result.verifiedOutputs).toBeUndefined();
  expect(fake.createSession).toHaveBeenCalledTimes(1);
  // Nothing usable left behind: the session still waited on the user, so it was cancelled.
  expect(fake.cancelSession).toHaveBeenCalledWith(s.id);
  await saveHistory('identity-max-attempts', handle);
});

test('uncounted codes (abandoned) wait again without spending an attempt', async () => {
  const handle = await start({ maxAttempts: 1 });
  const s = await sessionOf(handle);
  s.status = 'requires_input';
  s.lastErrorCode = 'abandoned';
  await signal(handle, eventOf(s, 'requires_input'));
  const state = await waitState(handle, (st) => st.lastError?.code === 'abandoned');
  expect(state).toMatchObject({ status: 'action_pending', attempts: 0 });
  await handle.executeUpdate(identityContract.messages.cancel, { args: [{}] });
});

test.each(['consent_declined', 'under_supported_age', 'country_not_supported'])(
  'terminal code %s → failed with that reason at once',
  async (code) => {
    const handle = await start({ maxAttempts: 3 });
    const s = await sessionOf(handle);
    await signal(handle, processing(s));
    await signal(handle, outcome(s, code));
    expect(await handle.result()).toMatchObject({ status: 'failed', reason: code, attempts: 1 });
    expect(fake.cancelSession).toHaveBeenCalledWith(s.id);
  },
);

test('a stale event makes the workflow re-read the session and trust Stripe', async () => {
  const handle = await start();
  const s = await sessionOf(handle);
  const oldProcessing = processing(s);
  const failed = outcome(s, 'document_expired');
  await signal(handle, failed);
  await waitState(handle, (st) => st.attempts === 1);
  expect(fake.retrieveSession).not.toHaveBeenCalled();
  // The processing event of that submission arrives late: it is older, so Stripe is asked.
  await signal(handle, oldProcessing);
  await eventually(() => fake.retrieveSession.mock.calls.length === 1);
  const state = await waitState(handle, () => true);
  expect(state).toMatchObject({ status: 'action_pending', sessionStatus: 'requires_input', attempts: 1 });
  await handle.executeUpdate(identityContract.messages.cancel, { args: [{}] });
});

test('events of another session are ignored; an event that overtakes the session creation is held', async () => {
  fake.createSession.mockImplementation(async (params) => {
    const id = `vs_fake_${++sessionSeq}`;
    const s: FakeSession = {
      id,
      status: 'processing',
      lastErrorCode: null,
      reportId: null,
      reports: 0,
      redactionStatus: null,
      params,
    };
    sessions.set(id, s);
    // Stripe's webhook reaches the workflow before this activity's result does.
    await client.workflow
      .getHandle(params.workflowId)
      .signal(identityContract.messages.providerEvent, eventOf(s, 'processing'));
    s.status = 'requires_input';
    return snapshot(s);
  });
  const handle = await start();
  const s = await sessionOf(handle);
  await signal(handle, { ...eventOf(s, 'verified'), sessionId: 'vs_someone_else' });
  // The held processing event is newer than nothing we applied, so it is applied as it is.
  await waitState(handle, (st) => st.status === 'processing');
  expect(fake.retrieveSession).not.toHaveBeenCalled();
  await handle.executeUpdate(identityContract.messages.cancel, { args: [{}] });
});

test('deadline → the session is cancelled (Stripe allows it in requires_input) → expired', async () => {
  const handle = await start({ deadlineSeconds: 3 });
  const s = await sessionOf(handle);
  expect(await handle.result()).toMatchObject({ status: 'expired', reason: 'expired', sessionStatus: 'canceled' });
  expect(fake.cancelSession).toHaveBeenCalledWith(s.id);
  await saveHistory('identity-deadline-fewer-actions', handle);
});

test('deadline while Stripe is processing: cancel refused, still expired', async () => {
  const handle = await start({ deadlineSeconds: 3 });
  const s = await sessionOf(handle);
  await signal(handle, processing(s));
  expect(await handle.result()).toMatchObject({ status: 'expired', sessionStatus: 'processing' });
  expect(fake.cancelSession).toHaveBeenCalledWith(s.id);
  expect(await fake.cancelSession.mock.results[0].value).toBe(false);
});

test('cancel update → session cancelled → cancelled; then updates are rejected', async () => {
  const handle = await start();
  const s = await sessionOf(handle);
  const state = await handle.executeUpdate(identityContract.messages.cancel, { args: [{ reason: 'user gave up' }] });
  expect(state).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
  expect(fake.cancelSession).toHaveBeenCalledWith(s.id);
  expect(await handle.result()).toMatchObject({ status: 'cancelled' });
  await expect(handle.executeUpdate(identityContract.messages.cancel, { args: [{}] })).rejects.toThrow();
});

test('idempotent creation: the activity retried after Stripe accepted gets the same session back', async () => {
  failAfterAccept = 1;
  const handle = await start();
  const s = await sessionOf(handle);
  expect(fake.createSession).toHaveBeenCalledTimes(2);
  const [first, second] = fake.createSession.mock.calls.map((c) => c[0].idempotencyKey);
  expect(second).toBe(first);
  expect([...sessions.values()].filter((x) => x.params.workflowId === handle.workflowId)).toHaveLength(1);
  expect((await stateOf(handle)).sessionId).toBe(s.id);
  await handle.executeUpdate(identityContract.messages.cancel, { args: [{}] });
});

test('Stripe refuses the creation (invalid request) → failed / provider_error', async () => {
  fake.createSession.mockRejectedValue(
    ApplicationFailure.create({ type: FailureType.InvalidProviderRequest, message: 'bad', nonRetryable: true }),
  );
  const handle = await start();
  expect(await handle.result()).toMatchObject({ status: 'failed', reason: 'provider_error' });
  expect(fake.createSession).toHaveBeenCalledTimes(1);
});

test('expected values: a mismatch fails (field names only, no outputs); a match completes', async () => {
  const mismatch = await start({
    expected: { firstName: 'Jenny', lastName: 'Rossen', dob: { year: 1990, month: 1, day: 15 } },
  });
  const s1 = await sessionOf(mismatch);
  await signal(mismatch, outcome(s1, 'verified'));
  const failed = await mismatch.result();
  expect(failed).toMatchObject({ status: 'failed', reason: 'expected_mismatch', mismatches: ['lastName'] });
  expect(failed.verifiedOutputs).toBeUndefined();

  const match = await start({
    expected: { firstName: ' jenny ', lastName: 'ROSEN', dob: { year: 1990, month: 1, day: 15 } },
  });
  const s2 = await sessionOf(match);
  await signal(match, outcome(s2, 'verified'));
  expect(await match.result()).toMatchObject({ status: 'completed', verifiedOutputs: OUTPUTS });
});

test('invalid input fails the workflow with InvalidInput naming the field', async () => {
  const handle = await client.workflow.start(identityVerification, {
    workflowId: `identity-bad-${randomUUID().slice(0, 8)}`,
    taskQueue,
    args: [{ reference: 'jenny@example.com', type: 'id_number', options: { requireLiveCapture: true } }],
  });
  const err = await handle.result().catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(err.cause).toMatchObject({ type: FailureType.InvalidInput });
  expect(err.cause.message).toContain('reference:');
  expect(err.cause.message).toContain('options: applies only to type document');
});

test('a repeated start with the same reference joins the running verification (one session)', async () => {
  const ref = reference();
  const first = await start({ reference: ref });
  await sessionOf(first);
  const second = await start({ reference: ref });
  expect(second.firstExecutionRunId).toBe(first.firstExecutionRunId);
  expect(fake.createSession).toHaveBeenCalledTimes(1);
  await first.executeUpdate(identityContract.messages.cancel, { args: [{}] });
});

test('redactAfterSeconds: the result comes now; a child that outlives the parent redacts later and ends on the redacted event', async () => {
  const handle = await start({ redactAfterSeconds: 2 });
  const s = await sessionOf(handle);
  await signal(handle, outcome(s, 'verified'));
  const result = await handle.result();
  const redactionId = identityRedactionContract.id(s.id);
  expect(result).toMatchObject({ status: 'completed', redaction: { status: 'scheduled', workflowId: redactionId } });
  // The parent is closed; the redaction runs on (ABANDON) and calls Stripe once its durable timer fired.
  const closedAt = (await handle.describe()).closeTime!.getTime();
  const child = client.workflow.getHandle<typeof identityRedaction>(redactionId);
  await eventually(() => fake.redactSession.mock.calls.length === 1);
  expect(redactCalledAt).toBeGreaterThanOrEqual(closedAt + 1500);
  await eventually(
    async () => (await child.query(identityRedactionContract.messages.getState)).status === 'processing',
  );
  s.redactionStatus = 'redacted';
  await child.signal(identityRedactionContract.messages.providerEvent, eventOf(s, 'redacted'));
  const done: IdentityRedactionState = await child.result();
  expect(done).toMatchObject({ status: 'redacted', sessionId: s.id, verificationId: handle.workflowId });
  expect(done.redactedAt).toBeDefined();
  expect(fake.cancelSession).not.toHaveBeenCalled();
  await saveHistory('identity-redaction-parent', handle);
  await saveHistory('identity-redaction-child', child);
});

test('redact update while live: ends the verification (cancelled / redacted) and redacts now, which cancels the session', async () => {
  const handle = await start();
  const s = await sessionOf(handle);
  const info = await handle.executeUpdate(identityContract.messages.redact, { args: [{}] });
  expect(info).toMatchObject({ status: 'requested', workflowId: identityRedactionContract.id(s.id) });
  expect(await handle.result()).toMatchObject({ status: 'cancelled', reason: 'redacted' });
  await eventually(() => fake.redactSession.mock.calls.length === 1);
  // Redaction cancels a session that waits on the user; no separate cancel call.
  expect(fake.cancelSession).not.toHaveBeenCalled();
  expect(s.status).toBe('canceled');
  const child = client.workflow.getHandle<typeof identityRedaction>(identityRedactionContract.id(s.id));
  s.redactionStatus = 'redacted';
  await child.signal(identityRedactionContract.messages.providerEvent, eventOf(s, 'redacted'));
  expect(await child.result()).toMatchObject({ status: 'redacted' });
});

test('identityRedaction waits while the session is still processing, then redacts', async () => {
  const handle = await start();
  const s = await sessionOf(handle);
  await handle.executeUpdate(identityContract.messages.cancel, { args: [{}] });
  s.status = 'processing';
  const child = await client.workflow.start(identityRedaction, {
    workflowId: `redaction-test-${randomUUID().slice(0, 8)}`,
    taskQueue,
    args: [{ verificationId: handle.workflowId, sessionId: s.id, delaySeconds: 0, pollSeconds: 1 }],
  });
  await eventually(async () => (await child.query(identityRedactionContract.messages.getState)).status === 'waiting');
  s.status = 'verified';
  await eventually(
    async () => (await child.query(identityRedactionContract.messages.getState)).status === 'processing',
  );
  expect(fake.redactSession.mock.calls.length).toBeGreaterThanOrEqual(2);
  s.redactionStatus = 'redacted';
  await child.signal(identityRedactionContract.messages.providerEvent, eventOf(s, 'redacted'));
  expect(await child.result()).toMatchObject({ status: 'redacted' });
});

test('identityRedaction: Stripe cannot redact a canceled session → failed with the reason', async () => {
  const handle = await start();
  const s = await sessionOf(handle);
  await handle.executeUpdate(identityContract.messages.cancel, { args: [{}] });
  const child = await client.workflow.start(identityRedaction, {
    workflowId: `redaction-test-${randomUUID().slice(0, 8)}`,
    taskQueue,
    args: [{ verificationId: handle.workflowId, sessionId: s.id, delaySeconds: 0 }],
  });
  expect(await child.result()).toMatchObject({
    status: 'failed',
    error: 'Stripe cannot redact a canceled session',
  });
});
