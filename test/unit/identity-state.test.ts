import type { StripeSessionSnapshot } from '../../providers/stripe/identity';
import {
  isTerminal,
  type IdentityProviderEvent,
  type IdentityVerifiedOutputs,
  type VerificationStatus,
} from '../../workflows/contract';
import {
  applySnapshot,
  compareExpected,
  countAttempt,
  describeIdentity,
  finish,
  identityResult,
  initialIdentity,
  nextIdentityStep,
  planRedaction,
  sessionCreated,
  shouldRelease,
  takeEvent,
  type ExpectedValues,
  type IdentityModel,
} from '../../workflows/identity/state';

/**
 * identityVerification's transitions without a Temporal server: Stripe event sequences in, states out. `play` does
 * what the driver does with each event of our session — take it, then apply the session it carries or, when the
 * event may be stale or the session is verified, the session as Stripe has it now (`stripe`) — and stops once the
 * verification is over, like the driver's loop.
 */
const NOW = '2026-01-01T00:00:00.000Z';
const SESSION = 'vs_123';
const OUTPUTS: IdentityVerifiedOutputs = {
  firstName: 'Jenny',
  lastName: 'Rosen',
  dob: { year: 1990, month: 1, day: 15 },
  address: null,
  idNumberType: null,
};

const snapshot = (status: string, more: Partial<StripeSessionSnapshot> = {}): StripeSessionSnapshot => ({
  id: SESSION,
  status,
  lastErrorCode: null,
  lastErrorMessage: null,
  reportId: null,
  redactionStatus: null,
  ...more,
});

let seq = 0;
/** An event of our session: `type`, `created` (epoch seconds) and what it says about the session. */
const event = (
  type: IdentityProviderEvent['type'],
  created: number,
  more: Partial<IdentityProviderEvent> = {},
): IdentityProviderEvent => ({
  eventId: `evt_${++seq}`,
  provider: 'stripe',
  type,
  sessionId: SESSION,
  created,
  sessionStatus: type === 'verified' ? 'verified' : type === 'canceled' ? 'canceled' : type,
  ...more,
});
const failed = (created: number, code: string, reportId?: string, more: Partial<IdentityProviderEvent> = {}) =>
  event('requires_input', created, { lastErrorCode: code, ...(reportId ? { reportId } : {}), ...more });

const start = (options: { maxAttempts?: number; expected?: ExpectedValues } = {}): IdentityModel =>
  sessionCreated(
    initialIdentity({
      id: 'identity-test',
      type: 'document',
      maxAttempts: options.maxAttempts ?? 3,
      expected: options.expected,
      startedAt: Date.parse(NOW),
      deadline: Date.parse(NOW) + 3600_000,
    }),
    snapshot('requires_input'),
    NOW,
  );

function play(events: IdentityProviderEvent[], stripe: StripeSessionSnapshot, model = start()) {
  let m = model;
  const reads: string[] = [];
  for (const e of events) {
    if (isTerminal(m.state.status)) break;
    const taken = takeEvent(m, e, NOW);
    m = taken.model;
    if ('read' in taken.step) {
      reads.push(taken.step.read);
      m = applySnapshot(m, stripe, NOW);
    } else if ('apply' in taken.step) m = applySnapshot(m, taken.step.apply, NOW);
  }
  return { m, reads };
}

const verifiedNow = snapshot('verified', { verifiedOutputs: OUTPUTS });
const waitingNow = (code: string | null = null) => snapshot('requires_input', { lastErrorCode: code });

interface Row {
  name: string;
  events: IdentityProviderEvent[];
  stripe: StripeSessionSnapshot;
  maxAttempts?: number;
  status: VerificationStatus;
  reason?: string;
  attempts: number;
  reads: number;
}

test.each<Row>([
  {
    name: 'processing → verified: completed, the outputs read once',
    events: [event('processing', 10), event('verified', 20)],
    stripe: verifiedNow,
    status: 'completed',
    reason: 'verified',
    attempts: 0,
    reads: 1,
  },
  {
    name: 'verified delivered before processing: completed; the late processing event is never taken',
    events: [event('verified', 20), event('processing', 10)],
    stripe: verifiedNow,
    status: 'completed',
    reason: 'verified',
    attempts: 0,
    reads: 1,
  },
  {
    name: 'one submission reported three times under other event ids counts one attempt',
    events: [
      failed(10, 'document_expired', 'vr_1'),
      failed(11, 'document_expired', 'vr_1'),
      failed(12, 'document_expired', 'vr_1'),
    ],
    stripe: waitingNow('document_expired'),
    status: 'action_pending',
    attempts: 1,
    reads: 0,
  },
  {
    name: 'correctable codes count up to maxAttempts, then fail with the last code',
    events: [
      failed(10, 'document_expired', 'vr_1'),
      failed(20, 'selfie_face_mismatch', 'vr_2'),
      failed(30, 'document_unverified_other', 'vr_3'),
    ],
    stripe: waitingNow(),
    status: 'failed',
    reason: 'document_unverified_other',
    attempts: 3,
    reads: 0,
  },
  {
    name: 'attempts run out on a code this version does not know: max_attempts',
    events: [failed(10, 'document_expired', 'vr_1'), failed(20, 'some_new_code', 'vr_2')],
    stripe: waitingNow(),
    maxAttempts: 2,
    status: 'failed',
    reason: 'max_attempts',
    attempts: 2,
    reads: 0,
  },
  {
    name: 'uncounted codes (abandoned, device_not_supported) wait again without spending an attempt',
    events: [failed(10, 'abandoned', 'vr_1'), failed(20, 'device_not_supported', 'vr_2')],
    stripe: waitingNow(),
    maxAttempts: 1,
    status: 'action_pending',
    attempts: 0,
    reads: 0,
  },
  {
    name: 'a terminal code fails at once',
    events: [failed(10, 'consent_declined', 'vr_1'), event('processing', 20)],
    stripe: waitingNow(),
    status: 'failed',
    reason: 'consent_declined',
    attempts: 1,
    reads: 0,
  },
  {
    name: 'without a report id, each event is a submission of its own',
    events: [failed(10, 'document_expired'), failed(20, 'document_expired')],
    stripe: waitingNow(),
    status: 'action_pending',
    attempts: 2,
    reads: 0,
  },
  {
    name: 'a stale event makes it read the session and trust Stripe (a late failure still counts)',
    events: [event('processing', 20), failed(15, 'document_expired', 'vr_1')],
    stripe: snapshot('processing'),
    status: 'processing',
    attempts: 1,
    reads: 1,
  },
  {
    name: 'an event of the same second as the newest one may be stale too',
    events: [event('processing', 20), event('requires_input', 20)],
    stripe: snapshot('processing'),
    status: 'processing',
    attempts: 0,
    reads: 1,
  },
  {
    name: 'a fresh event whose session is already verified reads the outputs instead of applying itself',
    events: [event('processing', 10, { sessionStatus: 'verified' })],
    stripe: verifiedNow,
    status: 'completed',
    reason: 'verified',
    attempts: 0,
    reads: 1,
  },
  {
    name: 'cancelled at Stripe by someone else',
    events: [event('canceled', 10)],
    stripe: snapshot('canceled'),
    status: 'cancelled',
    reason: 'cancelled',
    attempts: 0,
    reads: 0,
  },
  {
    name: 'created and redacted events change nothing',
    events: [event('created', 10), event('redacted', 11)],
    stripe: waitingNow(),
    status: 'action_pending',
    attempts: 0,
    reads: 0,
  },
])('$name', ({ events, stripe, maxAttempts, status, reason, attempts, reads }) => {
  const { m, reads: done } = play(events, stripe, start({ maxAttempts }));
  expect(m.state.status).toBe(status);
  expect(m.state.reason).toBe(reason);
  expect(m.state.attempts).toBe(attempts);
  expect(done).toHaveLength(reads);
});

test('the stale-event read says which event may be stale', () => {
  const { reads } = play([event('processing', 20), event('requires_input', 10)], snapshot('processing'));
  expect(reads).toEqual(['re-read the session (requires_input event may be stale)']);
});

test('created and redacted events do not move the newest-event mark', () => {
  const { m } = play([event('created', 50), event('processing', 10)], snapshot('processing'));
  expect(m.newest).toBe(10);
});

test('a late failed submission counts once even when its report was already counted by a read', () => {
  let m = start();
  m = applySnapshot(m, waitingNow('document_expired'), NOW);
  m = applySnapshot(m, { ...waitingNow('document_expired'), reportId: 'vr_1' }, NOW);
  const { m: after } = play([failed(10, 'document_expired', 'vr_1')], waitingNow('document_expired'), m);
  expect(after.state.attempts).toBe(1);
  expect(after.state.lastError).toEqual({ code: 'document_expired' });
});

test('expected values: a mismatch fails with the field names and keeps no outputs; a match completes', () => {
  const mismatch = play([event('verified', 10)], verifiedNow, start({ expected: { lastName: 'Smith' } })).m;
  expect(identityResult(mismatch)).toMatchObject({
    status: 'failed',
    reason: 'expected_mismatch',
    mismatches: ['lastName'],
  });
  expect(identityResult(mismatch).verifiedOutputs).toBeUndefined();
  const match = play(
    [event('verified', 10)],
    verifiedNow,
    start({ expected: { firstName: 'jenny ', lastName: 'ROSEN' } }),
  ).m;
  expect(identityResult(match)).toMatchObject({ status: 'completed', verifiedOutputs: OUTPUTS });
  expect(identityResult(match).mismatches).toBeUndefined();
});

test.each<[string, ExpectedValues, string[]]>([
  ['names without case, accents or spacing', { firstName: 'Jénny', lastName: ' rosen ' }, []],
  ['a different last name', { lastName: 'Rossen' }, ['lastName']],
  ['the date of birth field by field', { dob: { year: 1990, month: 1, day: 16 } }, ['dob']],
  ['several fields at once', { firstName: 'Jane', dob: { year: 1991, month: 1, day: 15 } }, ['firstName', 'dob']],
])('compareExpected: %s', (_name, expected, differing) => {
  expect(compareExpected(expected, OUTPUTS)).toEqual(differing);
});

test('a verification that is over stays as it ended', () => {
  const done = finish(start(), 'expired', 'expired', NOW);
  expect(finish(done, 'completed', 'verified', NOW).state).toMatchObject({ status: 'expired', reason: 'expired' });
  expect(applySnapshot(done, verifiedNow, NOW).state).toMatchObject({ status: 'expired', sessionStatus: 'verified' });
  expect(countAttempt(start(), 'abandoned', 'vr_1', NOW).state.attempts).toBe(0);
});

test('an unknown session status is recorded and otherwise ignored', () => {
  const m = applySnapshot(start(), snapshot('some_future_status'), NOW);
  expect(m.state).toMatchObject({ status: 'action_pending', sessionStatus: 'some_future_status' });
});

const base = { cancelRequested: false, redactRequested: false, queued: 0, now: 0, deadline: 100 };
test.each<[string, Partial<typeof base>, string]>([
  ['nothing to do: wait', {}, 'wait'],
  ['an event queued', { queued: 2 }, 'event'],
  ['the deadline passed, before queued events', { queued: 1, now: 100 }, 'expired'],
  ['cancel, before the deadline', { cancelRequested: true, now: 100 }, 'cancelled'],
  ['redact, before anything else', { redactRequested: true, cancelRequested: true, now: 100 }, 'redacted'],
])('nextIdentityStep: %s', (_name, requests, step) => {
  expect(nextIdentityStep({ ...base, ...requests })).toBe(step);
});

test.each<[string, IdentityModel, boolean, boolean, boolean]>([
  ['a session waiting on the user', start(), false, false, true],
  ['once only', start(), true, false, false],
  ['not when a redaction follows', start(), false, true, false],
  ['not a cancelled session', applySnapshot(start(), snapshot('canceled'), NOW), false, false, false],
  [
    'not without a session',
    initialIdentity({ id: 'x', type: 'document', maxAttempts: 3, startedAt: 0, deadline: 1 }),
    false,
    false,
    false,
  ],
])('shouldRelease: %s', (_name, m, released, redactionPlanned, expected) => {
  expect(shouldRelease(m, released, redactionPlanned)).toBe(expected);
});

test('planRedaction: at once when asked, after the delay otherwise, nothing without a session or a plan', () => {
  const now = Date.parse(NOW);
  expect(planRedaction(start(), false, undefined, now).plan).toBeUndefined();
  const asked = planRedaction(start(), true, 3600, now);
  expect(asked.plan).toEqual({ workflowId: `redaction-stripe-${SESSION}`, sessionId: SESSION, delaySeconds: 0 });
  expect(asked.model.state.redaction).toMatchObject({ status: 'requested', redactAt: NOW });
  const later = planRedaction(start(), false, 60, now);
  expect(later.plan?.delaySeconds).toBe(60);
  expect(later.model.state.redaction).toMatchObject({ status: 'scheduled', redactAt: '2026-01-01T00:01:00.000Z' });
});

test('describeIdentity says what the verification waits for', () => {
  const waiting = play([failed(10, 'document_expired', 'vr_1')], waitingNow()).m;
  expect(describeIdentity(waiting)).toBe(
    'waiting for the user to submit their identity document (attempt 2 of 3, last error document_expired), deadline 2026-01-01 01:00 UTC',
  );
  expect(describeIdentity(finish(waiting, 'failed', 'consent_declined', NOW))).toBe('failed (consent_declined)');
});
