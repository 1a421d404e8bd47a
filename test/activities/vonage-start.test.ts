import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createPhoneActivities } from '../../activities/phone';
import type { VonageStartParams, VonageStarted } from '../../providers/vonage/verify';
import { vonageOnLoopback } from '../support/local-server';
import { Outbox } from '../../sandbox/outbox';
import { FailureType } from '../../workflows/contract';

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
