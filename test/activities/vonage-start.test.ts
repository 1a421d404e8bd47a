import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createPhoneActivities } from '../../activities/phone';
import type { VonageStartParams, VonageStarted } from '../../providers/vonage/verify';
import { vonageOnLoopback } from '../support/local-server';
import { Outbox } from '../../sandbox/outbox';
import { FailureType } from '../../workflows/contract';
import { GuardFailureType } from '../../activities/abuse-guard';
import { RateLimiterAbuseGuard } from '../../src/auth/abuse-guard';
import { guardConfig, limit } from '../support/guard-behaviour';

/**
 * A start whose answer was lost (worker killed after Vonage created the request) is retried; Vonage then answers 409
 * "Concurrent verifications to the same number" naming the request the first attempt created. The retry takes that
 * request over; a first attempt never does (the number is busy with somebody else's verification).
 */
const outbox = new Outbox();
let provider: Awaited<ReturnType<typeof vonageOnLoopback>>;
let acts: ReturnType<typeof createPhoneActivities>;

beforeAll(async () => {
  provider = await vonageOnLoopback('a1b2c3d4-0000-4000-8000-000000000002', outbox);
  acts = createPhoneActivities({ vonage: provider.vonage });
});
afterAll(() => provider.close());

const attempt = (n: number) =>
  new MockActivityEnvironment({ attempt: n } as never, { logger: new DefaultLogger('ERROR') });
const params = (to: string): VonageStartParams => ({
  brand: 'Acme',
  steps: [{ channel: 'sms', to }],
  channelTimeoutSeconds: 300,
});

test('a retried start takes over the request its lost first attempt created: one SMS, one request', async () => {
  const to = '+14155550181';
  const first = (await attempt(1).run(acts.vonageStartVerification, params(to))) as VonageStarted;
  const retried = await attempt(2).run(acts.vonageStartVerification, params(to));
  expect(retried).toEqual({ requestId: first.requestId, adopted: true });
  expect(outbox.list({ to })).toHaveLength(1);
});

test('a first attempt on a busy number fails typed and non-retryable, naming the conflict', async () => {
  const to = '+14155550182';
  await attempt(1).run(acts.vonageStartVerification, params(to));
  const err = await attempt(1)
    .run(acts.vonageStartVerification, params(to))
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect(err).toMatchObject({ type: FailureType.ProviderRejected, nonRetryable: true });
  expect((err as Error).message).toMatch(/409.*Concurrent verifications to the same number/);
});

/**
 * A start made inside a workflow task (a local activity) runs again from attempt 1 when its task is lost. Its key,
 * noted in the guard's store, tells it that it began before: it takes its request over and counts no second send. A
 * start the guard refused forgets its key, so running it again counts again.
 */
describe('a start inside the workflow task (startKey)', () => {
  const guard = new RateLimiterAbuseGuard(guardConfig({ sendsPerDestination: limit('2/10m') }));
  const guarded = () => createPhoneActivities({ vonage: provider.vonage, guard });
  const sends = (to: string) => guard.peekSend('acme', to);
  afterAll(() => guard.close());

  test('run again at attempt 1 after its task was lost: the same request, one SMS, one send counted', async () => {
    const to = '+14155550183';
    const acts = guarded();
    const first = (await attempt(1).run(
      acts.vonageStartVerification,
      params(to),
      { client: 'acme', to },
      'run-a:0',
    )) as VonageStarted;
    const again = await attempt(1).run(acts.vonageStartVerification, params(to), { client: 'acme', to }, 'run-a:0');
    expect(again).toEqual({ requestId: first.requestId, adopted: true });
    expect(outbox.list({ to })).toHaveLength(1);
    // One of the two sends the limit allows is left: the second run counted nothing.
    expect(await guard.consumeSend('acme', to)).toEqual({ allowed: true });
    expect(await sends(to)).toMatchObject({ allowed: false, scope: 'destination' });
  });

  test('another start of the run (another key) on a busy number still fails: it never takes over', async () => {
    const to = '+14155550184';
    const acts = guarded();
    await attempt(1).run(acts.vonageStartVerification, params(to), undefined, 'run-b:0');
    const err = await attempt(1)
      .run(acts.vonageStartVerification, params(to), undefined, 'run-b:1')
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ type: FailureType.ProviderRejected, nonRetryable: true });
  });

  test('refused by the guard: nothing sent, the key forgotten, so the start run again is counted (and refused) again', async () => {
    const to = '+14155550185';
    const acts = guarded();
    await guard.consumeSend('acme', to);
    await guard.consumeSend('acme', to);
    for (let i = 0; i < 2; i++) {
      const err = await attempt(1)
        .run(acts.vonageStartVerification, params(to), { client: 'acme', to }, 'run-c:0')
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ type: GuardFailureType.RateLimited, nonRetryable: true });
    }
    expect(outbox.list({ to })).toHaveLength(0);
    expect(await guard.startBegun('run-c:0')).toBe(false);
  });
});
