import { pushContract, type PushProviderEvent, type Reason } from '../../workflows/contract';

const MAX_PUSH_RESENDS = pushContract.defaults.maxResends;
import {
  afterWait,
  answered,
  answerOf,
  awaitingAnswer,
  challengeCreated,
  denied,
  describePush,
  expiredUnlessAnswered,
  fallbackEnded,
  fallbackStarted,
  finish,
  giveUp,
  initialPush,
  nextPushStep,
  polled,
  polledAt,
  resending,
  resent,
  startClock,
  type PushClock,
  type PushModel,
  type PushStep,
} from '../../workflows/push/state';

/**
 * pushVerification's transitions without a Temporal server: answers from webhooks and polls, the wait's timers
 * (expiry, poll, resend), and what happens when push cannot finish by itself. Times are epoch milliseconds from 0.
 */
const NOW = '2026-01-01T00:00:00.000Z';
const EXPIRES = 300_000;
const start = (): PushModel => initialPush({ id: 'push-test', startedAt: 0, expiresAt: EXPIRES });
const waiting = (): PushModel => challengeCreated(start(), { sid: 'YC1', factorSid: 'YF1' }, NOW);

const webhook = (type: PushProviderEvent['type']): PushProviderEvent => ({
  eventId: `evt-${type}`,
  provider: 'twilio',
  type,
  identity: 'user-0000-0001',
  challengeSid: 'YC1',
});

/** Answers in arrival order, each from a webhook (`hook:`) or a poll (`poll:` + challenge status). */
function answers(inputs: string[], model = waiting()): PushModel {
  let m = model;
  for (const input of inputs) {
    const [source, value] = input.split(':');
    if (source === 'poll') m = polled(m, value, NOW);
    else {
      const answer = answerOf(webhook(value as PushProviderEvent['type']));
      if (answer) m = answered(m, answer, NOW);
    }
  }
  return m;
}

test.each<[string, string[], string | undefined, Reason | undefined]>([
  // name, answers in, answer out, pushReason out
  ['an approval webhook', ['hook:challenge.approved'], 'approved', undefined],
  ['a denial webhook', ['hook:challenge.denied'], 'denied', undefined],
  [
    'the first answer stands (a later denial changes nothing)',
    ['hook:challenge.approved', 'hook:challenge.denied'],
    'approved',
    undefined,
  ],
  ['factor events carry no answer', ['hook:factor.verified'], undefined, undefined],
  ['a poll finds the approval whose webhook got lost', ['poll:pending', 'poll:approved'], 'approved', undefined],
  ['a poll that finds it expired at Twilio gives up', ['poll:expired'], undefined, 'expired'],
  ['a poll after the answer changes nothing', ['hook:challenge.denied', 'poll:approved'], 'denied', undefined],
])('answers: %s', (_name, inputs, answer, pushReason) => {
  const m = answers(inputs);
  expect(m.answer).toBe(answer);
  expect(m.pushReason).toBe(pushReason);
});

test('a verification that is over takes no answer', () => {
  const over = finish(waiting(), 'cancelled', 'cancelled', NOW);
  expect(answers(['hook:challenge.approved', 'poll:approved'], over).answer).toBeUndefined();
});

const clock = (more: Partial<PushClock> = {}): PushClock => ({ ...startClock(EXPIRES, 15_000, 60_000, 0), ...more });

test.each<[string, PushModel, boolean, PushClock, number, PushStep]>([
  // name, model, cancel requested, clock, now, step
  [
    'nothing due: wait for the next poll',
    waiting(),
    false,
    clock(),
    0,
    { do: 'wait', ms: 15_000, summary: 'next poll' },
  ],
  [
    'a cancel comes first, even after an approval',
    answers(['hook:challenge.approved']),
    true,
    clock(),
    0,
    { do: 'cancel' },
  ],
  ['approved: complete', answers(['hook:challenge.approved']), false, clock(), 0, { do: 'complete' }],
  ['denied: deny', answers(['hook:challenge.denied']), false, clock(), 0, { do: 'deny' }],
  ['the expiry passed: one last poll', waiting(), false, clock(), EXPIRES, { do: 'final-poll' }],
  ['the poll is due', waiting(), false, clock(), 15_000, { do: 'poll' }],
  ['the resend is due', waiting(), false, clock({ nextPollAt: 100_000 }), 60_000, { do: 'resend', ttlSeconds: 240 }],
  [
    'a resend lives 300 s at most',
    waiting(),
    false,
    startClock(3_600_000, 600_000, 1000, 0),
    1000,
    { do: 'resend', ttlSeconds: 300 },
  ],
  [
    'the resend is the next wake-up',
    waiting(),
    false,
    clock({ nextPollAt: 100_000 }),
    10_000,
    { do: 'wait', ms: 50_000, summary: 'resend' },
  ],
  [
    'the expiry is the next wake-up',
    waiting(),
    false,
    clock({ nextPollAt: Infinity, nextResendAt: Infinity }),
    299_500,
    { do: 'wait', ms: 500, summary: 'push challenge expiry' },
  ],
  [
    'a timer is never shorter than 1 ms',
    waiting(),
    false,
    clock({ nextPollAt: 100 }),
    99.5,
    { do: 'wait', ms: 1, summary: 'next poll' },
  ],
])('nextPushStep: %s', (_name, m, cancelRequested, c, now, step) => {
  expect(nextPushStep(m, cancelRequested, c, now)).toEqual(step);
});

test('polls are counted from the last one; without resendAfterSeconds there is no resend', () => {
  expect(polledAt(clock(), 20_000).nextPollAt).toBe(35_000);
  expect(startClock(EXPIRES, 15_000, undefined, 5).nextResendAt).toBe(Infinity);
});

test(`resends: each one counted, the next scheduled until ${MAX_PUSH_RESENDS}; a failed or refused one ends them`, () => {
  let m = waiting();
  let c = clock();
  const schedule: number[] = [];
  for (let at = 60_000; c.nextResendAt !== Infinity; at += 60_000) {
    const next = resent(m, resending(c), at);
    m = next.model;
    c = next.clock;
    schedule.push(c.nextResendAt);
  }
  expect(m.state.resends).toBe(MAX_PUSH_RESENDS);
  expect(schedule).toEqual([120_000, 180_000, 240_000, Infinity]);
  // A resend being tried blocks the next one until it went out; when it fails the clock stays so.
  expect(resending(clock()).nextResendAt).toBe(Infinity);
});

test.each<[string, PushModel, boolean, boolean, { status: string; reason?: string; pushReason?: string }, boolean]>([
  // name, model after the wait, cancel requested, has a fallback, state out, fallback runs
  ['cancelled', waiting(), true, true, { status: 'cancelled', reason: 'cancelled' }, false],
  [
    'completed stays completed',
    finish(waiting(), 'completed', 'verified', NOW),
    false,
    true,
    { status: 'completed' },
    false,
  ],
  [
    'expired, no fallback',
    giveUp(waiting(), 'expired'),
    false,
    false,
    { status: 'expired', reason: 'expired', pushReason: 'expired' },
    false,
  ],
  [
    'expired with a fallback',
    giveUp(waiting(), 'expired'),
    false,
    true,
    { status: 'action_pending', pushReason: 'expired' },
    true,
  ],
  [
    'no verified factor, no fallback',
    giveUp(start(), 'no_verified_factor'),
    false,
    false,
    { status: 'failed', reason: 'no_verified_factor' },
    false,
  ],
  [
    'no verified factor with a fallback',
    giveUp(start(), 'no_verified_factor'),
    false,
    true,
    { status: 'pending', pushReason: 'no_verified_factor' },
    true,
  ],
  [
    'denied, falling back on denial',
    denied(answers(['hook:challenge.denied']), true, NOW),
    false,
    true,
    { status: 'action_pending', pushReason: 'user_denied' },
    true,
  ],
  [
    'denied without falling back on denial',
    denied(answers(['hook:challenge.denied']), false, NOW),
    false,
    true,
    { status: 'failed', reason: 'user_denied' },
    false,
  ],
])('afterWait: %s', (_name, m, cancelRequested, hasFallback, state, fallback) => {
  const out = afterWait(m, cancelRequested, hasFallback, NOW);
  expect(out.model.state).toMatchObject(state);
  expect(out.fallback).toBe(fallback);
});

test('the last poll at expiry: an answer wins over giving up', () => {
  expect(expiredUnlessAnswered(answers(['poll:approved'])).pushReason).toBeUndefined();
  expect(expiredUnlessAnswered(answers(['poll:pending'])).pushReason).toBe('expired');
  expect(awaitingAnswer(expiredUnlessAnswered(waiting()))).toBe(false);
  expect(awaitingAnswer(waiting())).toBe(true);
  expect(awaitingAnswer(start())).toBe(false);
});

test.each<[string, { status: 'completed' | 'failed' | 'expired'; reason?: Reason }, string, string]>([
  ['completed', { status: 'completed' }, 'completed', 'verified'],
  ['failed with its reason', { status: 'failed', reason: 'max_attempts' }, 'failed', 'max_attempts'],
  ['failed without a reason', { status: 'failed' }, 'failed', 'fallback_failed'],
  ['expired', { status: 'expired', reason: 'expired' }, 'expired', 'expired'],
])('the fallback’s result becomes ours: %s', (_name, result, status, reason) => {
  const m = fallbackStarted(giveUp(waiting(), 'expired'), 'phone-test', NOW);
  expect(fallbackEnded(m, result, NOW).state).toMatchObject({ status, reason, fallbackId: 'phone-test' });
});

test('describePush follows the run', () => {
  expect(describePush(start())).toBe('finding the verified push factor');
  expect(describePush(resent(waiting(), clock(), 1).model)).toBe(
    'waiting for the push answer to YC1, 1 notification(s) resent, expires 00:05:00 UTC',
  );
  const fallingBack = afterWait(giveUp(waiting(), 'expired'), false, true, NOW).model;
  expect(describePush(fallbackStarted(fallingBack, 'phone-x', NOW))).toBe(
    'push expired: waiting for the fallback phone verification phone-x',
  );
  expect(describePush(finish(waiting(), 'failed', 'user_denied', NOW))).toBe('failed (user_denied)');
});
