import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { AbuseGuard } from '../../activities/abuse-guard';
import { createPhoneActivities } from '../../activities/phone';
import { RateLimiterAbuseGuard } from '../../src/auth/abuse-guard';
import type { VonageStartParams, VonageStarted, VonageVerifyAdapter } from '../../providers/vonage/verify';
import { Outbox } from '../../sandbox/outbox';
import { guardConfig } from '../support/guard-behaviour';
import { vonageOnLoopback } from '../support/local-server';

/**
 * A right code is noted in the guard's store, so the API need not signal Vonage's `completed` callback; a check that
 * finds the request gone (404) reads that note: an earlier check of ours (a lost attempt, or the same check in a
 * workflow task that failed) completed the request. Real adapter, Vonage emulator, memory guard.
 */
const outbox = new Outbox();
const guard = new RateLimiterAbuseGuard(guardConfig());
let provider: Awaited<ReturnType<typeof vonageOnLoopback>>;
let vonage: VonageVerifyAdapter;

beforeAll(async () => {
  provider = await vonageOnLoopback('a1b2c3d4-0000-4000-8000-000000000003', outbox);
  vonage = provider.vonage;
});
afterAll(async () => {
  await provider.close();
  await guard.close();
});

const attempt = (n: number) =>
  new MockActivityEnvironment({ attempt: n } as never, { logger: new DefaultLogger('ERROR') });

/** A fresh SMS request to `to` and the code the user received. */
async function request(acts: ReturnType<typeof createPhoneActivities>, to: string) {
  const params: VonageStartParams = { brand: 'Acme', steps: [{ channel: 'sms', to }], channelTimeoutSeconds: 300 };
  const started = (await attempt(1).run(acts.vonageStartVerification, params)) as VonageStarted;
  const code = outbox.list({ to }).at(-1)!.code;
  return { requestId: started.requestId, code };
}

test('a right code is noted; its retry, finding the request gone, answers completed', async () => {
  const acts = createPhoneActivities({ vonage, guard });
  const { requestId, code } = await request(acts, '+14155550191');
  expect(await guard.completedByCheck(`vonage:${requestId}`)).toBe(false);

  expect(await attempt(1).run(acts.vonageCheckCode, { requestId, code })).toBe('completed');
  expect(await guard.completedByCheck(`vonage:${requestId}`)).toBe(true);
  // The answer was lost; Vonage now answers 404 for the completed request.
  expect(await attempt(2).run(acts.vonageCheckCode, { requestId, code })).toBe('completed');
  // A check run inside the update's workflow task starts again at attempt 1 when that task failed: the same answer.
  expect(await attempt(1).run(acts.vonageCheckCode, { requestId, code })).toBe('completed');
});

test('a wrong code notes nothing; a request gone without a note is gone_after_retry on a retry, not_found at first', async () => {
  const acts = createPhoneActivities({ vonage, guard });
  const { requestId, code } = await request(acts, '+14155550192');
  const wrong = code === '0000' ? '1111' : '0000';
  expect(await attempt(1).run(acts.vonageCheckCode, { requestId, code: wrong })).toBe('invalid_code');
  expect(await guard.completedByCheck(`vonage:${requestId}`)).toBe(false);

  expect(await attempt(1).run(acts.vonageCancel, requestId)).toBe(true);
  expect(await attempt(1).run(acts.vonageCheckCode, { requestId, code })).toBe('not_found');
  expect(await attempt(2).run(acts.vonageCheckCode, { requestId, code })).toBe('gone_after_retry');
});

test("the guard's store failing costs nothing but the shortcut: the check still answers", async () => {
  const failing: AbuseGuard = Object.assign(Object.create(guard) as AbuseGuard, {
    noteCompletedByCheck: () => Promise.reject(new Error('redis down')),
    completedByCheck: () => Promise.reject(new Error('redis down')),
  });
  const acts = createPhoneActivities({ vonage, guard: failing });
  const { requestId, code } = await request(acts, '+14155550193');
  expect(await attempt(1).run(acts.vonageCheckCode, { requestId, code })).toBe('completed');
  expect(await guard.completedByCheck(`vonage:${requestId}`)).toBe(false);
  expect(await attempt(2).run(acts.vonageCheckCode, { requestId, code })).toBe('gone_after_retry');
});
