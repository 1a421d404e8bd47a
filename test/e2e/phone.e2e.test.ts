import { createHash, randomUUID } from 'node:crypto';
import { HttpException } from '@nestjs/common';
import { sign } from 'jsonwebtoken';
import { ClientSettings } from '../../src/auth/client-settings';
import { ApiSecurity, templatesOf } from '../../src/auth/api-security';
import { PhoneService } from '../../src/phone/phone.service';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { type PhoneVerificationState, type ProviderEvent, SA_CHANNEL, SA_STATUS } from '../../workflows/contract';
import { saveHistory } from '../support/histories';
import { eventually, startStack, type Stack } from '../support/stack';

/**
 * The whole system over HTTP: REST API → Temporal (real dev server) → worker → Vonage SDK → sandbox emulator →
 * signed callbacks → webhook → signal. Codes are read from the sandbox outbox, as a person would.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const startPhone = async (body: Record<string, unknown>): Promise<PhoneVerificationState> => {
  const res = await stack
    .http()
    .post('/v1/verifications/phone')
    .send({ brand: 'Acme', ...body });
  expect(res.status).toBe(201);
  return res.body as PhoneVerificationState;
};
const getState = async (id: string): Promise<PhoneVerificationState> => {
  const res = await stack.http().get(`/v1/verifications/${id}`);
  expect(res.status).toBe(200);
  return res.body as PhoneVerificationState;
};
const waitFor = (id: string, pred: (s: PhoneVerificationState) => boolean, timeoutMs = 20_000) =>
  eventually(async () => {
    const s = await getState(id);
    return pred(s) && s;
  }, timeoutMs);
const outboxCode = (to: string, channel: string) =>
  eventually(async () => {
    const res = await stack.http().get('/sandbox/outbox').query({ to });
    const entry = (res.body as { channel: string; code: string }[]).filter((e) => e.channel === channel).pop();
    return entry?.code;
  });
/** A Vonage-style signed callback (HS256 bearer with payload_hash), as the provider sends it. */
const signedCallback = (body: object, secret = stack.config.vonage.signatureSecret) => {
  const raw = JSON.stringify(body);
  const token = sign(
    {
      iat: Math.floor(Date.now() / 1000),
      jti: randomUUID(),
      iss: 'Vonage',
      payload_hash: createHash('sha256').update(raw).digest('hex'),
    },
    secret,
    { algorithm: 'HS256' },
  );
  return stack
    .anon()
    .post('/webhooks/vonage')
    .set('content-type', 'application/json')
    .set('authorization', `Bearer ${token}`)
    .send(raw);
};
/** A number of the test's own, so outbox lookups and Vonage's one-request-per-number rule never collide. */
const uniqueNumber = () => `+1415555${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;

test('silent auth completes through the check URL redirect chain (request_id compared)', async () => {
  const answered: string[] = [];
  stack.sandbox!.vonage.configure({
    onCallbackAttempt: (a) => {
      if (a.status === 'action_pending' && a.outcome === 'delivered') answered.push(a.requestId);
    },
  });
  const started = await startPhone({ to: uniqueNumber() });
  expect(started.id).toMatch(/^phone-sandbox-[0-9a-f]{20}$/);
  // The start answers once the silent auth request exists (the update sent with the start): no polling for the URL.
  expect(started).toMatchObject({ status: 'action_pending', channel: 'silent_auth', checkUrl: expect.any(String) });
  // Vonage's action_pending callback repeats that URL: acknowledged, never a signal (each would be a billed action).
  const { requestId } = stack.sandbox!.vonage.requests.list().find((r) => r.clientRef === started.id)!;
  await eventually(async () => answered.includes(requestId));
  stack.sandbox!.vonage.configure({ onCallbackAttempt: undefined });
  const early = await stack.client.workflow.getHandle(started.id).fetchHistory();
  expect(early.events?.filter((e) => e.workflowExecutionSignaledEventAttributes)).toEqual([]);
  const device = await fetch(started.checkUrl!, { redirect: 'follow' });
  expect(device.status).toBe(200);
  const { request_id, code } = (await device.json()) as { request_id: string; code: string };
  const check = await stack.http().post(`/v1/verifications/${started.id}/check`).send({ code, requestId: request_id });
  expect(check.status).toBe(200);
  expect(check.body).toMatchObject({ status: 'completed' });
  expect(await getState(started.id)).toMatchObject({ status: 'completed', reason: 'verified', channel: 'silent_auth' });
});

test('+15005550001: silent auth not supported → falls back to SMS; the outbox code completes it; findable by status', async () => {
  const to = '+15005550001';
  const started = await startPhone({ to });
  await waitFor(started.id, (s) => s.channel === 'sms');
  // While it waits on SMS, the Web UI's search attributes already say so.
  const waiting = stack.client.workflow.getHandle(started.id);
  await eventually(async () => (await waiting.describe()).typedSearchAttributes.get(SA_CHANNEL) === 'sms');
  const code = await outboxCode(to, 'sms');
  const check = await stack.http().post(`/v1/verifications/${started.id}/check`).send({ code });
  expect(check.body).toMatchObject({ status: 'completed', attemptsLeft: 5 });
  const done = await getState(started.id);
  expect(done.channels.map((c) => c.status)).toEqual(['failed', 'completed', 'waiting']);

  const handle = stack.client.workflow.getHandle(started.id);
  await eventually(async () => (await handle.describe()).typedSearchAttributes.get(SA_STATUS) === 'completed');
  const found = await eventually(async () => {
    for await (const wf of stack.client.workflow.list({
      query: `VerificationStatus = 'completed' AND WorkflowId = '${started.id}'`,
    })) {
      return wf.workflowId;
    }
    return undefined;
  });
  expect(found).toBe(started.id);
  await saveHistory('phone-e2e-silent-auth-to-sms-published-release-2026-12-05-starts', handle);
});

test('an SMS-first start answers the state the run starts with, built from the input', async () => {
  const started = await startPhone({ to: uniqueNumber(), channels: [{ channel: 'sms' }] });
  expect(started).toMatchObject({ kind: 'phone', status: 'pending', channel: 'sms', channelIndex: 0 });
  // What does not move with the first send is what the run itself reports.
  const plan = (s: PhoneVerificationState) =>
    s.channels.map(({ channel, provider, timeoutSeconds }) => ({ channel, provider, timeoutSeconds }));
  const state = await getState(started.id);
  expect({ id: started.id, client: started.client, attemptsLeft: started.attemptsLeft, plan: plan(started) }).toEqual({
    id: state.id,
    client: state.client,
    attemptsLeft: state.attemptsLeft,
    plan: plan(state),
  });
});

test('ten verifications checked at once, each racing its own `completed` callback: every check answers completed', async () => {
  // Vonage calls back `completed` while the check's answer is on its way back to the workflow. The check runs inside
  // the update's workflow task, which on a right code also completes the run; had that callback been signalled, the
  // server would refuse that task and abort the update with it (the tests below). The check notes the request first.
  const first = Math.floor(Math.random() * 9_990);
  const numbers = Array.from({ length: 10 }, (_, i) => `+1415555${String(first + i).padStart(4, '0')}`);
  const answered = new Set<string>();
  stack.sandbox!.vonage.configure({
    onCallbackAttempt: (a) => {
      if (a.status === 'completed' && a.outcome === 'delivered') answered.add(a.requestId);
    },
  });
  const started = await Promise.all(numbers.map((to) => startPhone({ to, channels: [{ channel: 'sms' }] })));
  const codes = await Promise.all(numbers.map((to) => outboxCode(to, 'sms')));
  const checks = await Promise.all(
    started.map((s, i) => stack.http().post(`/v1/verifications/${s.id}/check`).send({ code: codes[i] })),
  );
  expect(checks.map((c) => [c.status, c.body.status])).toEqual(numbers.map(() => [200, 'completed']));
  for (const s of started) await waitFor(s.id, (v) => v.status === 'completed');
  // The check activity noted each request completed, so the API answered each callback without a signal: no run took
  // the callback as an event, and none had a workflow task failed by it.
  const requestIds = started.map(
    (s) => stack.sandbox!.vonage.requests.list().find((r) => r.clientRef === s.id)!.requestId,
  );
  await eventually(async () => requestIds.every((r) => answered.has(r)));
  stack.sandbox!.vonage.configure({ onCallbackAttempt: undefined });
  for (const s of started) {
    const history = await stack.client.workflow.getHandle(s.id).fetchHistory();
    const kinds = (history.events ?? []).map((e) => Object.keys(e).find((k) => k.endsWith('EventAttributes')));
    expect(kinds).not.toContain('workflowExecutionSignaledEventAttributes');
    expect(kinds).not.toContain('workflowTaskFailedEventAttributes');
  }
});

describe('a signed `completed` callback for an SMS verification still pending', () => {
  /** A fresh SMS verification, its Vonage request, and the callback that says the request completed. */
  const pendingWithCallback = async () => {
    const started = await startPhone({ to: uniqueNumber(), channels: [{ channel: 'sms' }] });
    const req = await eventually(async () =>
      stack.sandbox!.vonage.requests.list().find((r) => r.clientRef === started.id),
    );
    const callback = (status = 'completed') =>
      signedCallback({
        request_id: req.requestId,
        triggered_at: new Date().toISOString(),
        type: 'event',
        channel: 'sms',
        status,
        client_ref: started.id,
      });
    return { id: started.id, requestId: req.requestId, callback };
  };

  test('for a request a check of ours completed: acknowledged without a signal, and so is any later event of it', async () => {
    const { id, requestId, callback } = await pendingWithCallback();
    // As the check activity notes it once Vonage answers `completed` (here while the run is still open, to tell the
    // two apart: a signal would complete it, or fail its channel).
    await stack.guard.noteCompletedByCheck(`vonage:${requestId}`);
    for (const status of ['completed', 'failed']) {
      const res = await callback(status);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ok: true, delivered: false });
    }
    expect(await getState(id)).toMatchObject({ status: 'pending' });
    const history = await stack.client.workflow.getHandle(id).fetchHistory();
    expect(history.events?.filter((e) => e.workflowExecutionSignaledEventAttributes)).toEqual([]);
    await stack.http().post(`/v1/verifications/${id}/cancel`).send({});
  });

  test('for a request no check of ours completed (its answer lost): signalled, and it completes the run', async () => {
    const { id, callback } = await pendingWithCallback();
    const res = await callback();
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true, delivered: true });
    expect(await waitFor(id, (v) => v.status === 'completed')).toMatchObject({ reason: 'verified' });
  });
});

describe('a check whose workflow task the server refuses, because a signal reached the run while the check was out', () => {
  // The check runs inside the update's workflow task; Vonage's answers are late here (it acts at once), so the task is
  // out long enough for a signal to land. The server then refuses the task that would complete the run, and aborts
  // the update with it; the API sends the update again under the same update ID.
  afterEach(() => stack.sandbox!.vonage.configure({ replyDelayMs: undefined, callbackDelayMs: undefined }));

  const checkedWhileSlow = async (whileOut: (id: string) => Promise<unknown>) => {
    const to = uniqueNumber();
    const started = await startPhone({ to, channels: [{ channel: 'sms' }, { channel: 'voice' }] });
    const code = await outboxCode(to, 'sms');
    stack.sandbox!.vonage.configure({ replyDelayMs: 800 });
    // Sent now (a supertest request goes out once it is awaited or `then`ed).
    const check = stack
      .http()
      .post(`/v1/verifications/${started.id}/check`)
      .send({ code })
      .then((r) => r);
    await whileOut(started.id);
    const res = await check;
    const history = await stack.client.workflow.getHandle(started.id).fetchHistory();
    const failedTasks = (history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes);
    return { id: started.id, to, res, failedTasks };
  };

  test("Vonage's `completed` callback, there before the check could note it: the run ends verified, the check answers completed", async () => {
    const { id, res, failedTasks } = await checkedWhileSlow(() => new Promise((r) => setTimeout(r, 400)));
    expect(failedTasks.length).toBeGreaterThan(0); // the race took place
    expect([res.status, res.body]).toEqual([200, { status: 'completed', attemptsLeft: expect.any(Number) }]);
    expect(await getState(id)).toMatchObject({ status: 'completed', reason: 'verified' });
  });

  test('another signal: the check runs again, finds the request gone and our note, and answers completed; nothing else is sent', async () => {
    // The `completed` callback comes late (after the note: acknowledged, not signalled); another event lands instead.
    stack.sandbox!.vonage.configure({ callbackDelayMs: 3000 });
    const { id, to, res, failedTasks } = await checkedWhileSlow(async (wid) => {
      await new Promise((r) => setTimeout(r, 300));
      await stack.client.workflow.getHandle(wid).signal('providerEvent', { unexpected: true });
    });
    expect(failedTasks.length).toBeGreaterThan(0);
    expect([res.status, res.body]).toEqual([200, { status: 'completed', attemptsLeft: expect.any(Number) }]);
    expect(await getState(id)).toMatchObject({ status: 'completed', reason: 'verified', channel: 'sms' });
    const sent = await stack.http().get('/sandbox/outbox').query({ to });
    expect((sent.body as { channel: string }[]).map((e) => e.channel)).toEqual(['sms']);
  });
});

test('+15005550002: SMS never delivered → our channel timeout → voice code completes it', async () => {
  const to = '+15005550002';
  const started = await startPhone({
    to,
    channels: [
      { channel: 'sms', timeoutSeconds: 2 },
      { channel: 'voice', timeoutSeconds: 60 },
    ],
  });
  await waitFor(started.id, (s) => s.channel === 'voice');
  const code = await outboxCode(to, 'voice');
  const check = await stack.http().post(`/v1/verifications/${started.id}/check`).send({ code });
  expect(check.body).toMatchObject({ status: 'completed' });
});

test('+15005550003: the provider rejects the number → failed / invalid_destination', async () => {
  const started = await startPhone({ to: '+15005550003' });
  const done = await waitFor(started.id, (s) => s.status === 'failed');
  expect(done.reason).toBe('invalid_destination');
});

test('+15005550004: two 503s (Retry-After honoured) then accepted → the SMS code completes it', async () => {
  const to = '+15005550004';
  const started = await startPhone({ to, channels: [{ channel: 'sms' }] });
  const code = await outboxCode(to, 'sms');
  const check = await stack.http().post(`/v1/verifications/${started.id}/check`).send({ code });
  expect(check.body).toMatchObject({ status: 'completed' });
});

test('+15005550005: the user rejects silent auth → failed / user_rejected', async () => {
  const started = await startPhone({ to: '+15005550005' });
  const done = await waitFor(started.id, (s) => s.status === 'failed');
  expect(done.reason).toBe('user_rejected');
});

test('+15005550006: Vonage network block → our own code at once (not after the 900 s channel timeout) completes it', async () => {
  const to = '+15005550006';
  const started = await startPhone({
    to,
    channels: [
      { channel: 'sms', timeoutSeconds: 900 },
      { channel: 'sms', provider: 'sms_gateway' },
    ],
  });
  const moved = await waitFor(started.id, (s) => s.channelIndex === 1);
  expect(moved.channels[0]).toMatchObject({ provider: 'vonage', status: 'failed', reason: 'blocked' });
  const code = await outboxCode(to, 'sms');
  const check = await stack.http().post(`/v1/verifications/${started.id}/check`).send({ code });
  expect(check.body).toMatchObject({ status: 'completed' });
});

test('an email channel on Vonage: the code goes to its own address (the sandbox outbox shows the mail) and completes it', async () => {
  const email = `user-${randomUUID().slice(0, 8)}@example.com`;
  const started = await startPhone({ to: uniqueNumber(), channels: [{ channel: 'email', to: email }] });
  expect(started.channels[0]).toMatchObject({ channel: 'email', provider: 'vonage' });
  expect(JSON.stringify(started)).not.toContain(email);
  const code = await outboxCode(email, 'email');
  const check = await stack.http().post(`/v1/verifications/${started.id}/check`).send({ code });
  expect(check.body).toMatchObject({ status: 'completed' });
});

test('+15005550006 with Vonage channels only → failed / blocked', async () => {
  const started = await startPhone({ to: '+15005550006', channels: [{ channel: 'sms', timeoutSeconds: 900 }] });
  const done = await waitFor(started.id, (s) => s.status === 'failed');
  expect(done.reason).toBe('blocked');
});

test('Idempotency-Key: a check retried after its answer was lost gets the first answer, even once the verification is over', async () => {
  const to = uniqueNumber();
  const started = await startPhone({ to, channels: [{ channel: 'sms' }] });
  const code = await outboxCode(to, 'sms');
  const check = (key: string | undefined, body: object) => {
    const req = stack.http().post(`/v1/verifications/${started.id}/check`);
    return (key === undefined ? req : req.set('idempotency-key', key)).send(body);
  };
  const key = randomUUID();
  const first = await check(key, { code });
  expect(first.status).toBe(200);
  expect(first.body).toMatchObject({ status: 'completed' });
  // The client never saw that answer and retries: same key, same body → the same outcome, not 409.
  const retried = await check(key, { code });
  expect(retried.status).toBe(200);
  expect(retried.body).toEqual(first.body);
  // Without the key (or with another one) it is a new check of a closed verification.
  expect((await check(undefined, { code })).status).toBe(409);
  expect((await check(randomUUID(), { code })).status).toBe(409);
  const bad = await check('has spaces in it', { code });
  expect(bad.status).toBe(400);
  expect(bad.body.message).toMatch(/Idempotency-Key/);
});

test('a code Vonage would refuse as malformed (11+ characters) → 400 naming code, no attempt spent', async () => {
  const to = uniqueNumber();
  const started = await startPhone({ to, channels: [{ channel: 'sms' }] });
  await outboxCode(to, 'sms');
  const res = await stack.http().post(`/v1/verifications/${started.id}/check`).send({ code: '12345678901' });
  expect(res.status).toBe(400);
  expect(res.body.message).toBe('code: must be 4-10 letters or digits on this channel');
  expect(await getState(started.id)).toMatchObject({ status: 'pending', attemptsLeft: 5 });
  await stack.http().post(`/v1/verifications/${started.id}/cancel`).send({});
});

test('wrong codes until locked; then 409 for a verification no longer live', async () => {
  const to = uniqueNumber();
  const started = await startPhone({ to, channels: [{ channel: 'sms' }], maxCodeAttempts: 2 });
  await outboxCode(to, 'sms');
  const first = await stack.http().post(`/v1/verifications/${started.id}/check`).send({ code: '000000' });
  expect(first.body).toEqual({ status: 'invalid_code', attemptsLeft: 1 });
  const second = await stack.http().post(`/v1/verifications/${started.id}/check`).send({ code: '000000' });
  expect(second.body).toEqual({ status: 'failed', attemptsLeft: 0, reason: 'max_attempts' });
  const third = await stack.http().post(`/v1/verifications/${started.id}/check`).send({ code: '000000' });
  expect(third.status).toBe(409);
  // The provider request was cancelled: its id answers 404 at the emulator.
  const req = stack.sandbox!.vonage.requests.list().find((r) => r.clientRef === started.id);
  expect(req?.status).toBe('cancelled');
});

/** Runs `fn` counting the API's describes of runs (an interceptor on the stack's Temporal client). */
async function withDescribesCounted(fn: (describes: () => number) => Promise<void>): Promise<void> {
  let describes = 0;
  const counter: WorkflowClientInterceptor = {
    async describe(input, next) {
      describes++;
      return next(input);
    },
  };
  const interceptors = stack.client.workflow.options.interceptors as WorkflowClientInterceptor[];
  interceptors.push(counter);
  try {
    await fn(() => describes);
  } finally {
    interceptors.splice(interceptors.indexOf(counter), 1);
  }
}

test("a REST start's checks are answered from its note in the guard's store, without describing the run", async () => {
  await withDescribesCounted(async (describes) => {
    const to = uniqueNumber();
    const started = await startPhone({ to, channels: [{ channel: 'sms' }], maxCodeAttempts: 3 });
    const code = await outboxCode(to, 'sms');
    const wrong = await stack.http().post(`/v1/verifications/${started.id}/check`).send({ code: '000000' });
    expect(wrong.body).toEqual({ status: 'invalid_code', attemptsLeft: 2 });
    expect(describes()).toBe(0);
    // A run the store has no note of (started before notes, over gRPC or Nexus, or its note expired) is described.
    jest.spyOn(stack.guard, 'checkAllowedForRun').mockResolvedValueOnce(undefined);
    const right = await stack.http().post(`/v1/verifications/${started.id}/check`).send({ code });
    expect(right.body).toMatchObject({ status: 'completed' });
    expect(describes()).toBe(1);
  });
});

test("next-channel and cancel over REST: a REST start's owner is read from the guard's note, not described", async () => {
  await withDescribesCounted(async (describes) => {
    const to = uniqueNumber();
    const started = await startPhone({ to, channels: [{ channel: 'sms' }, { channel: 'voice' }] });
    await outboxCode(to, 'sms');
    const moved = await stack.http().post(`/v1/verifications/${started.id}/next-channel`).send();
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ channel: 'voice', channelIndex: 1 });
    expect(describes()).toBe(0);
    await outboxCode(to, 'voice');
    // A run without a note of the caller's (started over gRPC or Nexus, or its note expired) is described.
    jest.spyOn(stack.guard, 'isNotedRun').mockResolvedValueOnce(false);
    const cancelled = await stack.http().post(`/v1/verifications/${started.id}/cancel`).send({ reason: 'test' });
    expect(cancelled.body).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
    expect(describes()).toBe(1);
  });
});

test('a repeated start with the same reference returns the same verification and sends once', async () => {
  const to = uniqueNumber();
  const reference = `user-${randomUUID().slice(0, 8)}`;
  const a = await startPhone({ to, reference, channels: [{ channel: 'sms' }] });
  const b = await startPhone({ to, reference, channels: [{ channel: 'sms' }] });
  expect(a.id).toBe(`phone-sandbox-${reference}`);
  expect(b.id).toBe(a.id);
  await outboxCode(to, 'sms');
  await new Promise((r) => setTimeout(r, 500));
  const sent = await stack.http().get('/sandbox/outbox').query({ to });
  expect(sent.body).toHaveLength(1);
  await stack.http().post(`/v1/verifications/${a.id}/cancel`).send({});
});

test('a forged callback is refused with 401 and changes nothing', async () => {
  const started = await startPhone({ to: uniqueNumber() });
  const pending = await waitFor(started.id, (s) => s.status === 'action_pending');
  const req = stack.sandbox!.vonage.requests.list().find((r) => r.clientRef === started.id)!;
  const forged = {
    request_id: req.requestId,
    type: 'event',
    channel: 'silent_auth',
    status: 'completed',
    client_ref: started.id,
  };
  expect((await signedCallback(forged, 'not-the-secret-at-all-0000')).status).toBe(401);
  expect((await stack.anon().post('/webhooks/vonage').send(forged)).status).toBe(401);
  // A valid token over another body: payload_hash mismatch.
  const raw = JSON.stringify({ ...forged, status: 'failed' });
  const token = sign(
    { iat: Math.floor(Date.now() / 1000), payload_hash: createHash('sha256').update(raw).digest('hex') },
    stack.config.vonage.signatureSecret,
  );
  const swapped = await stack
    .anon()
    .post('/webhooks/vonage')
    .set('content-type', 'application/json')
    .set('authorization', `Bearer ${token}`)
    .send(JSON.stringify(forged));
  expect(swapped.status).toBe(401);
  expect(await getState(started.id)).toMatchObject({ status: 'action_pending', channel: pending.channel });
  await stack.http().post(`/v1/verifications/${started.id}/cancel`).send({});
});

test('an undatable token (no iat) or one dated in the future is refused; a signed event the contract rejects is acknowledged, not signalled', async () => {
  const started = await startPhone({ to: uniqueNumber() });
  await waitFor(started.id, (s) => s.status === 'action_pending');
  const req = stack.sandbox!.vonage.requests.list().find((r) => r.clientRef === started.id)!;
  const body = {
    request_id: req.requestId,
    type: 'event',
    channel: 'silent_auth',
    status: 'failed',
    client_ref: started.id,
  };
  const raw = JSON.stringify(body);
  const noIat = sign(
    { payload_hash: createHash('sha256').update(raw).digest('hex') },
    stack.config.vonage.signatureSecret,
    {
      algorithm: 'HS256',
      noTimestamp: true,
    },
  );
  const refused = await stack
    .anon()
    .post('/webhooks/vonage')
    .set('content-type', 'application/json')
    .set('authorization', `Bearer ${noIat}`)
    .send(raw);
  expect(refused.status).toBe(401);
  // Dated 14 minutes ahead: within the 15-minute age limit, but beyond the 60 s clock skew → refused.
  const ahead = sign(
    { iat: Math.floor(Date.now() / 1000) + 14 * 60, payload_hash: createHash('sha256').update(raw).digest('hex') },
    stack.config.vonage.signatureSecret,
    { algorithm: 'HS256' },
  );
  const future = await stack
    .http()
    .post('/webhooks/vonage')
    .set('content-type', 'application/json')
    .set('authorization', `Bearer ${ahead}`)
    .send(raw);
  expect(future.status).toBe(401);
  expect(await getState(started.id)).toMatchObject({ status: 'action_pending', channel: 'silent_auth' });
  const hostile = await signedCallback({
    ...body,
    status: 'action_pending',
    action: { type: 'check', check_url: 'javascript:alert(1)' },
  });
  expect(hostile.status).toBe(200);
  expect(hostile.body).toEqual({ ok: true, delivered: false });
  expect(await getState(started.id)).toMatchObject({ status: 'action_pending', channel: 'silent_auth' });
  await stack.http().post(`/v1/verifications/${started.id}/cancel`).send({});
});

test('a callback delivered 5× (provider retries, replays) reaches the workflow once: one signal in its history', async () => {
  const started = await startPhone({ to: uniqueNumber() });
  await waitFor(started.id, (s) => s.status === 'action_pending');
  const req = stack.sandbox!.vonage.requests.list().find((r) => r.clientRef === started.id)!;
  const body = {
    request_id: req.requestId,
    triggered_at: new Date().toISOString(),
    type: 'event',
    channel: 'silent_auth',
    status: 'failed',
    client_ref: started.id,
  };
  for (let i = 0; i < 5; i++) {
    const res = await signedCallback(body); // a fresh token each time, the same event
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true, delivered: true });
  }
  await waitFor(started.id, (s) => s.channel === 'sms');
  const history = await stack.client.workflow.getHandle(started.id).fetchHistory();
  const signalled = await Promise.all(
    (history.events ?? [])
      .map((e) => e.workflowExecutionSignaledEventAttributes)
      .filter((a) => a?.signalName === 'providerEvent')
      .map((a) =>
        decodeFromPayloadsAtIndex<ProviderEvent>(stack.client.options.loadedDataConverter, 0, a!.input!.payloads),
      ),
  );
  expect(signalled.filter((e) => e.channel === 'silent_auth' && e.status === 'failed')).toHaveLength(1);
  await stack.http().post(`/v1/verifications/${started.id}/cancel`).send({});
});

test('a signed callback for an unknown verification is acknowledged (2xx) and dropped', async () => {
  const res = await signedCallback({
    request_id: randomUUID(),
    type: 'event',
    channel: 'sms',
    status: 'failed',
    client_ref: 'phone-nobody',
  });
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ ok: true, delivered: false });
});

test('bad input: 400 naming the field; unknown verification: 404', async () => {
  const bad = await stack.http().post('/v1/verifications/phone').send({ to: '0800 FLOWERS', brand: 'Acme' });
  expect(bad.status).toBe(400);
  expect(bad.body.message).toMatch(/^to: /);
  const extra = await stack
    .http()
    .post('/v1/verifications/phone')
    .send({ to: '+14155550100', brand: 'Acme', colour: 'red' });
  expect(extra.status).toBe(400);
  expect(extra.body.message).toMatch(/colour/);
  const channel = await stack
    .http()
    .post('/v1/verifications/phone')
    .send({ to: '+14155550100', brand: 'Acme', channels: [{ channel: 'fax' }] });
  expect(channel.body.message).toMatch(/^channels\.0\.channel: /);
  const code = await stack.http().post('/v1/verifications/phone-nobody/check').send({ code: '' });
  expect(code.status).toBe(400);
  expect(code.body.message).toMatch(/^code: /);
  expect((await stack.http().get('/v1/verifications/phone-nobody')).status).toBe(404);
  expect((await stack.http().get('/v1/verifications/not-an-id')).status).toBe(404);
  expect((await stack.http().post('/v1/verifications/phone-nobody/check').send({ code: '1234' })).status).toBe(404);
});

test('metrics: Prometheus text with per-route counters, and no IDs or numbers in labels', async () => {
  const res = await stack.anon().get('/metrics');
  expect(res.status).toBe(200);
  expect(res.text).toMatch(
    /verifyflow_http_requests_total\{method="POST",route="\/v1\/verifications\/phone",status="201"\} \d+/,
  );
  expect(res.text).toMatch(/route="\/v1\/verifications\/:id\/check"/);
  expect(res.text).not.toMatch(/phone-[0-9a-f]{32}|\+1\d{10}/);
});

test('health reports the Temporal connection; OpenAPI is served', async () => {
  expect((await stack.anon().get('/health')).body).toEqual({ status: 'ok', temporal: 'up' });
  const doc = await stack.http().get('/docs/openapi.json');
  expect(doc.status).toBe(200);
  expect(Object.keys(doc.body.paths)).toEqual(
    expect.arrayContaining(['/v1/verifications/phone', '/v1/verifications/{id}/check']),
  );
  // Every answer a route gives is documented (the fuzz run checks the same against the live API).
  expect(Object.keys(doc.body.paths['/v1/verifications/phone'].post.responses).sort()).toEqual([
    '201',
    '202',
    '400',
    '401',
    '409',
    '422',
    '429',
    '503',
  ]);
  expect(Object.keys(doc.body.paths['/v1/verifications/{id}/cancel'].post.responses).sort()).toEqual([
    '200',
    '400',
    '401',
    '404',
    '409',
    '503',
  ]);
});

test('a start whose first state cannot be read in time answers 202 with the id, never 503: it was started', async () => {
  // The API's task queue has no worker here, so the query after the start cannot be answered.
  const service = new PhoneService(
    stack.client,
    { ...stack.config, taskQueue: `no-worker-${randomUUID()}` },
    new ApiSecurity(stack.guard, templatesOf(stack.config), stack.config.hashSecret),
    new ClientSettings(stack.config.auth.clients),
  );
  const reference = randomUUID().slice(0, 30);
  const answer = await service
    .start('sandbox', { to: '+14155550100', brand: 'Acme', reference })
    .catch((e: unknown) => e);
  expect(answer).toBeInstanceOf(HttpException);
  expect((answer as HttpException).getStatus()).toBe(202);
  expect((answer as HttpException).getResponse()).toMatchObject({
    id: `phone-sandbox-${reference}`,
    kind: 'phone',
    status: 'pending',
  });
  const handle = stack.client.workflow.getHandle(`phone-sandbox-${reference}`);
  expect((await handle.describe()).status.name).toBe('RUNNING');
  await handle.terminate('test over');
});
