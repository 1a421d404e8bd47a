import type { PhoneVerificationInput, ProviderEvent } from '../../workflows/contract';
import {
  applyEvent,
  channelsBlocked,
  codeSent,
  failChannels,
  initialState,
  isCurrent,
  isStale,
  nextStep,
  planRun,
  requestCreated,
  requestOver,
  snaPending,
  spendAttempt,
  terminalResult,
  twilioStarted,
  verified,
  type PhoneState,
  type TwilioRun,
} from '../../workflows/phone/state';

/**
 * The phone verification's transitions as pure functions (workflows/phone/state.ts), without a Temporal server: plans,
 * provider events in order, out of order, repeated and late, attempts, expiry, our own codes. Event sequences in,
 * states out.
 */
const T0 = Date.parse('2026-12-01T12:00:00.000Z');
const start = (input: Partial<PhoneVerificationInput> = {}): PhoneState =>
  initialState({ to: '+14155550100', brand: 'Acme', ...input }, 'phone-x-1', T0);
const event = (status: ProviderEvent['status'], extra: Partial<ProviderEvent> = {}): ProviderEvent => ({
  eventId: `e-${status}-${extra.channel ?? ''}-${extra.ref ?? 'req-1'}`,
  provider: 'vonage',
  ref: 'req-1',
  status,
  ...extra,
});
const statuses = (s: PhoneState) => s.view.channels.map((c) => c.status).join(' ');

describe('planning provider runs (channel grouping)', () => {
  test.each([
    ['default channels: one Vonage request, silent auth first', undefined, [[0, 2]]],
    [
      'silent auth only first: a second silent_auth starts a request of its own',
      [{ channel: 'sms' }, { channel: 'silent_auth' }, { channel: 'voice' }],
      [
        [0, 0],
        [1, 2],
      ],
    ],
    [
      'at most 3 steps per Vonage request',
      [{ channel: 'sms' }, { channel: 'voice' }, { channel: 'whatsapp' }, { channel: 'sms' }],
      [
        [0, 2],
        [3, 3],
      ],
    ],
    [
      'a provider change ends the request; our own code is a run of its own',
      [
        { channel: 'silent_auth' },
        { channel: 'sms', provider: 'sms_gateway', gateway: 'gw' },
        { channel: 'sms', provider: 'sms_gateway', gateway: 'gw2' },
        { channel: 'voice' },
      ],
      [
        [0, 0],
        [1, 1],
        [2, 2],
        [3, 3],
      ],
    ],
  ] as const)('%s', (_what, channels, expected) => {
    const s = start({ channels: channels as PhoneVerificationInput['channels'] });
    const runs: number[][] = [];
    for (let i = 0; i < s.channels.length;) {
      const { first, last } = planRun(s, i);
      runs.push([first, last]);
      i = last + 1;
    }
    expect(runs).toEqual(expected);
  });
});

describe('provider events', () => {
  const live = () => {
    const s = start();
    requestCreated(s, { requestId: 'req-1', first: 0, last: 2 }, T0, 'https://check');
    return s;
  };

  test('silent auth failed → Vonage moved to SMS by itself; SMS failed → voice; voice failed → request over', () => {
    const s = live();
    expect(s.view).toMatchObject({ status: 'action_pending', channel: 'silent_auth', checkUrl: 'https://check' });
    applyEvent(s, event('failed', { channel: 'silent_auth' }), T0 + 1000);
    expect([s.view.status, s.view.channel, statuses(s), s.view.checkUrl]).toEqual([
      'pending',
      'sms',
      'failed active waiting',
      undefined,
    ]);
    expect(s.channelDeadline).toBe(T0 + 1000 + 120_000);
    applyEvent(s, event('failed', { channel: 'sms' }), T0 + 2000);
    expect([s.view.channel, statuses(s)]).toEqual(['voice', 'failed failed active']);
    applyEvent(s, event('failed', { channel: 'voice' }), T0 + 3000);
    expect([statuses(s), s.run, s.view.channelIndex]).toEqual(['failed failed failed', undefined, 3]);
    expect(nextStep(s, { cancel: false, advance: false, resend: false }, T0 + 3000)).toEqual({
      kind: 'end',
      status: 'failed',
      reason: 'all_channels_failed',
    });
  });

  test('a late `failed` of a step already left changes nothing (out of order)', () => {
    const s = live();
    applyEvent(s, event('failed', { channel: 'silent_auth' }), T0 + 1000);
    const before = JSON.stringify(s.view);
    applyEvent(s, event('failed', { channel: 'silent_auth' }), T0 + 5000);
    expect(JSON.stringify(s.view)).toBe(before);
  });

  test('a `failed` that skips ahead fails every step up to it (a lost callback in between)', () => {
    const s = live();
    applyEvent(s, event('failed', { channel: 'sms' }), T0 + 1000);
    expect([s.view.channel, statuses(s)]).toEqual(['voice', 'failed failed active']);
  });

  test('completed → verified; user_rejected → failed; events after the end change nothing', () => {
    const a = live();
    applyEvent(a, event('completed', { channel: 'silent_auth' }), T0 + 1000);
    expect([a.view.status, a.view.reason, statuses(a), a.run]).toEqual([
      'completed',
      'verified',
      'completed waiting waiting',
      undefined,
    ]);
    applyEvent(a, event('failed', { channel: 'silent_auth' }), T0 + 2000);
    expect(a.view.status).toBe('completed');
    const b = live();
    applyEvent(b, event('user_rejected', { channel: 'silent_auth' }), T0 + 1000);
    expect([b.view.status, b.view.reason]).toEqual(['failed', 'user_rejected']);
  });

  test('blocked (the network block) fails every step of the request at once: the channel after it is next', () => {
    const s = start({
      channels: [{ channel: 'sms' }, { channel: 'voice' }, { channel: 'sms', provider: 'sms_gateway', gateway: 'gw' }],
    });
    requestCreated(s, { requestId: 'req-1', first: 0, last: 1 }, T0);
    applyEvent(s, event('blocked', { channel: 'sms' }), T0 + 1000);
    expect([statuses(s), s.run, s.view.channelIndex, s.view.status]).toEqual([
      'failed failed waiting',
      undefined,
      2,
      'pending',
    ]);
    expect(s.view.channels.map((c) => c.reason)).toEqual(['blocked', 'blocked', undefined]);
    expect(nextStep(s, { cancel: false, advance: false, resend: false }, T0 + 1000)).toEqual({
      kind: 'start',
      index: 2,
    });
  });

  test('blocked with no channel after the request → failed / blocked; a step already failed keeps its own story', () => {
    const s = live();
    applyEvent(s, event('failed', { channel: 'silent_auth' }), T0 + 1000);
    applyEvent(s, event('blocked', { channel: 'sms' }), T0 + 2000);
    expect([s.view.status, s.view.reason, statuses(s), s.run]).toEqual([
      'failed',
      'blocked',
      'failed failed failed',
      undefined,
    ]);
    expect(s.view.channels.map((c) => c.reason)).toEqual([undefined, 'blocked', 'blocked']);
    expect(terminalResult(s)).toMatchObject({ status: 'failed', reason: 'blocked' });
  });

  test('an event before its request is known is not current and not stale: the driver holds it', () => {
    const s = start();
    const early = event('action_pending', { channel: 'silent_auth', checkUrl: 'https://late' });
    expect([isCurrent(s, early), isStale(s, early)]).toEqual([false, false]);
    requestCreated(s, { requestId: 'req-1', first: 0, last: 2 }, T0);
    expect(isCurrent(s, early)).toBe(true);
    applyEvent(s, early, T0);
    expect(s.view).toMatchObject({ status: 'action_pending', checkUrl: 'https://late' });
  });

  test('events of a request the verification left are stale; every provider event is stale on our own code', () => {
    const s = start({ channels: [{ channel: 'sms' }, { channel: 'sms', provider: 'sms_gateway', gateway: 'gw' }] });
    requestCreated(s, { requestId: 'req-1', first: 0, last: 0 }, T0);
    requestOver(s, s.run!, T0 + 1000);
    expect(isStale(s, event('completed', { channel: 'sms' }))).toBe(true);
    codeSent(s, { index: 1, hmac: 'h', issue: 1, gateway: 'gw', validitySeconds: 300 }, T0 + 2000);
    expect(isStale(s, event('completed', { ref: 'req-9' }))).toBe(true);
  });
});

describe('attempts, expiry and the main loop', () => {
  test('wrong codes spend attempts; the last one fails max_attempts; later checks see the terminal result', () => {
    const s = start({ maxCodeAttempts: 2 });
    expect(spendAttempt(s, T0)).toEqual({ status: 'invalid_code', attemptsLeft: 1 });
    expect(spendAttempt(s, T0)).toEqual({ status: 'failed', attemptsLeft: 0, reason: 'max_attempts' });
    expect(terminalResult(s)).toEqual({ status: 'failed', attemptsLeft: 0, reason: 'max_attempts' });
  });

  test.each([
    ['expired before anything else', { cancel: true, advance: true, resend: false }, T0 + 600_000, 'end'],
    ['cancel before starting', { cancel: true, advance: false, resend: false }, T0, 'end'],
    ['nothing running yet: start the first channel', { cancel: false, advance: false, resend: false }, T0, 'start'],
  ] as const)('%s', (_what, asked, now, kind) => {
    expect(nextStep(start(), asked, now).kind).toBe(kind);
  });

  test('a running channel: advance when asked, time out at its deadline, else wait for the earlier of deadline and expiry', () => {
    const s = start({ channels: [{ channel: 'sms', timeoutSeconds: 30 }, { channel: 'voice' }], expirySeconds: 20 });
    requestCreated(s, { requestId: 'req-1', first: 0, last: 1 }, T0);
    const idle = { cancel: false, advance: false, resend: false };
    expect(nextStep(s, { ...idle, advance: true }, T0)).toEqual({ kind: 'advance' });
    expect(nextStep(s, idle, T0)).toEqual({ kind: 'wait', untilMs: T0 + 20_000 });
    expect(nextStep(s, idle, T0 + 20_000)).toMatchObject({ kind: 'end', status: 'expired' });
    const t = start({ channels: [{ channel: 'sms', timeoutSeconds: 30 }] });
    requestCreated(t, { requestId: 'req-1', first: 0, last: 0 }, T0);
    expect(nextStep(t, idle, T0 + 30_000)).toEqual({ kind: 'timed_out' });
  });

  test('failing channels moves past them; an invalid destination fails the run (driver) after failing them', () => {
    const s = start();
    failChannels(s, 0, 2, T0);
    expect([statuses(s), s.view.channelIndex]).toEqual(['failed failed failed', 3]);
  });
});

describe('our own codes (issues)', () => {
  test('each send is a new issue with its own validity; a resend replaces the run; the code of the current run verifies', () => {
    const s = start({
      channels: [{ channel: 'sms', provider: 'sms_gateway', gateway: 'gw' }],
      codeValiditySeconds: 60,
    });
    expect(s.view.resendsLeft).toBe(3);
    codeSent(s, { index: 0, hmac: 'h1', issue: ++s.otpIssue, gateway: 'gw', validitySeconds: 60 }, T0);
    const first = s.run!;
    expect(first).toMatchObject({ kind: 'own_otp', issue: 1, expiresAtMs: T0 + 60_000 });
    expect(s.view).toMatchObject({ status: 'pending', codeExpiresAt: new Date(T0 + 60_000).toISOString() });
    expect(nextStep(s, { cancel: false, advance: false, resend: true }, T0 + 1000)).toEqual({
      kind: 'start',
      index: 0,
    });
    codeSent(s, { index: 0, hmac: 'h2', issue: ++s.otpIssue, gateway: 'gw', validitySeconds: 60 }, T0 + 1000);
    expect(s.run).toMatchObject({ issue: 2 });
    // A check of the replaced code's run no longer verifies anything.
    expect(requestOver(s, first, T0 + 2000)).toEqual({ status: 'expired', attemptsLeft: 5 });
    expect(s.run).toMatchObject({ issue: 2 });
    expect(verified(s, s.run!, T0 + 3000)).toEqual({ status: 'completed', attemptsLeft: 5 });
    expect(s.view).toMatchObject({ status: 'completed', reason: 'verified', codeExpiresAt: undefined });
  });
});

describe('Twilio Verify runs (one verification per channel, silent auth asked for)', () => {
  test('each twilio channel is a run of its own, between Vonage requests', () => {
    const s = start({
      channels: [
        { channel: 'silent_auth' },
        { channel: 'sms', provider: 'twilio' },
        { channel: 'voice', provider: 'twilio' },
        { channel: 'voice' },
        { channel: 'whatsapp' },
      ],
    });
    expect([0, 1, 2, 3].map((i) => planRun(s, i))).toEqual([
      { provider: 'vonage', first: 0, last: 0 },
      { provider: 'twilio', first: 1, last: 1 },
      { provider: 'twilio', first: 2, last: 2 },
      { provider: 'vonage', first: 3, last: 4 },
    ]);
  });

  test('an SMS verification waits for its deadline and is never asked for a result', () => {
    const s = start({ channels: [{ channel: 'sms', provider: 'twilio', timeoutSeconds: 60 }] });
    twilioStarted(s, { verificationSid: 'VE1', index: 0 }, T0, 'https://ignored.example');
    expect(s.view).toMatchObject({ status: 'pending', channel: 'sms' });
    expect(s.view.checkUrl).toBeUndefined();
    expect(s.providerRefs).toEqual(['twilio:VE1']);
    const asked = { cancel: false, advance: false, resend: false };
    expect(nextStep(s, asked, T0 + 1000)).toEqual({ kind: 'wait', untilMs: T0 + 60_000 });
    expect(nextStep(s, asked, T0 + 60_000)).toEqual({ kind: 'timed_out' });
    // No provider event is about a Twilio run (Twilio Verify has no status callback).
    expect(isCurrent(s, event('completed', { ref: 'VE1' }))).toBe(false);
  });

  test('silent auth: the SNA URL is the check URL; asked after 2 s, then 4, 8 and 10 s apart, never past the deadline', () => {
    const s = start({ channels: [{ channel: 'silent_auth', provider: 'twilio', timeoutSeconds: 30 }] });
    twilioStarted(s, { verificationSid: 'VE2', index: 0 }, T0, 'https://sna.example/VE2');
    expect(s.view).toMatchObject({ status: 'action_pending', checkUrl: 'https://sna.example/VE2' });
    const asked = { cancel: false, advance: false, resend: false };
    const polls: number[] = [];
    let now = T0;
    for (let i = 0; i < 20; i++) {
      const step = nextStep(s, asked, now);
      if (step.kind === 'timed_out') break;
      if (step.kind === 'poll') {
        polls.push(now - T0);
        snaPending(s, s.run as TwilioRun, now);
      } else if (step.kind === 'wait') now = step.untilMs;
      else throw new Error(`unexpected ${step.kind}`);
    }
    expect(polls).toEqual([2_000, 6_000, 14_000, 24_000]);
    expect(now).toBe(T0 + 30_000);
  });

  test('a blocked channel fails `blocked` and the next one is due; the last one blocked fails the verification', () => {
    const s = start({ channels: [{ channel: 'sms', provider: 'twilio' }, { channel: 'sms' }] });
    channelsBlocked(s, 0, 0, T0);
    expect(s.view.channels.map((c) => [c.status, c.reason])).toEqual([
      ['failed', 'blocked'],
      ['waiting', undefined],
    ]);
    expect(s.view.status).toBe('pending');
    channelsBlocked(s, 1, 1, T0);
    expect(s.view).toMatchObject({ status: 'failed', reason: 'blocked' });
  });
});
