import { ApplicationFailure } from '@temporalio/common';
import type { ApproveFactorInput, PushProviderEvent } from '../../workflows/contract';
import {
  applyFactorEvent,
  approve,
  describeEnrollment,
  initialEnrollment,
  isFactorEvent,
  MAX_FACTORS,
  openWindow,
  settle,
  validateApproval,
  verifiedFactors,
  type EnrollmentModel,
} from '../../workflows/push/enrollment-state';

/**
 * pushEnrollment's transitions without a Temporal server: factor event sequences in, factors and status out — the
 * first factor trusted on Twilio's word, a further one `pending_approval` until approved, out-of-order and duplicate
 * events, deletions, the enrollment window, approvals and their validation. Times are epoch milliseconds from 0.
 */
const IDENTITY = 'user-0000-0001';
const sid = (n: number) => `YF${n.toString(16).padStart(32, '0')}`;
const at = (s: number) => new Date(s * 1000).toISOString();

/** `created 1 @10` — a factor event of factor 1, occurred at 10 s. */
function factorEvent(spec: string): PushProviderEvent {
  const [what, n, when] = spec.replace('@', '').split(' ');
  return {
    eventId: spec,
    provider: 'twilio',
    type: `factor.${what}` as PushProviderEvent['type'],
    identity: IDENTITY,
    factorSid: sid(Number(n)),
    occurredAt: at(Number(when)),
  };
}

const fresh = (): EnrollmentModel => initialEnrollment({ identity: IDENTITY });
const play = (specs: string[], model = fresh()): EnrollmentModel =>
  specs.reduce((m, spec) => applyFactorEvent(m, factorEvent(spec), at(999)), model);
const statuses = (m: EnrollmentModel) =>
  Object.fromEntries(m.factors.map((f) => [Number(`0x${f.sid.slice(2)}`), f.status]));

test.each<[string, string[], Record<number, string>, string, number | undefined]>([
  // name, events, factor statuses, status (window closed), newest verified factor
  ['created → verified', ['created 1 @10', 'verified 1 @20'], { 1: 'verified' }, 'verified', 1],
  [
    'verified overtakes created: enough on its own',
    ['verified 1 @20', 'created 1 @10'],
    { 1: 'verified' },
    'verified',
    1,
  ],
  ['created only', ['created 1 @10'], { 1: 'unverified' }, 'expired', undefined],
  [
    'a second factor verified while one is verified waits for approval',
    ['verified 1 @10', 'created 2 @20', 'verified 2 @30'],
    { 1: 'verified', 2: 'pending_approval' },
    'verified',
    1,
  ],
  [
    'created before the first was verified, verified after: still waits',
    ['created 2 @5', 'verified 1 @10', 'verified 2 @30'],
    { 1: 'verified', 2: 'pending_approval' },
    'verified',
    1,
  ],
  [
    'a duplicate verified event does not promote a factor waiting for approval',
    ['verified 1 @10', 'verified 2 @20', 'verified 2 @20'],
    { 1: 'verified', 2: 'pending_approval' },
    'verified',
    1,
  ],
  [
    'two factors verified in turn, the first deleted: the second was never approved',
    ['verified 1 @10', 'verified 2 @20', 'deleted 1 @30'],
    { 2: 'pending_approval' },
    'expired',
    undefined,
  ],
  ['every factor deleted: removed', ['created 1 @10', 'verified 1 @20', 'deleted 1 @30'], {}, 'removed', undefined],
  ['a delete of an unknown factor changes nothing', ['deleted 3 @10'], {}, 'expired', undefined],
  [
    'a factor verified after the only verified one was deleted is trusted',
    ['verified 1 @10', 'deleted 1 @20', 'verified 2 @30'],
    { 2: 'verified' },
    'verified',
    2,
  ],
])('%s', (_name, specs, factors, status, newest) => {
  const m = play(specs);
  expect(statuses(m)).toEqual(factors);
  const { view } = settle(m, 0);
  expect(view.status).toBe(status);
  expect(view.factorSid).toBe(newest === undefined ? undefined : sid(newest));
});

test('verifiedAt is the first verification; createdAt the first sighting', () => {
  const m = play(['verified 1 @20', 'created 1 @10', 'verified 1 @30']);
  expect(m.factors[0]).toEqual({ sid: sid(1), status: 'verified', createdAt: at(20), verifiedAt: at(20) });
  expect(play(['created 1 @10']).everHadFactor).toBe(true);
});

test(`at most ${MAX_FACTORS} factors are followed`, () => {
  const m = play(Array.from({ length: MAX_FACTORS + 2 }, (_, i) => `created ${i + 1} @${i}`));
  expect(m.factors).toHaveLength(MAX_FACTORS);
  expect(play([`verified ${MAX_FACTORS + 5} @1`], m).factors).toHaveLength(MAX_FACTORS);
});

test.each<[string, Partial<PushProviderEvent>, boolean]>([
  ['a factor event of this identity', {}, true],
  ['another identity', { identity: 'user-0000-0002' }, false],
  ['no factor sid', { factorSid: undefined }, false],
  ['a challenge event', { type: 'challenge.approved' }, false],
])('isFactorEvent: %s', (_name, change, expected) => {
  expect(isFactorEvent(fresh(), { ...factorEvent('created 1 @1'), ...change })).toBe(expected);
});

test.each<[string, string[], number, string]>([
  // name, events, now, status while the window (0..600 s) is open
  ['no factor yet', [], 1000, 'pending'],
  ['a factor created', ['created 1 @10'], 1000, 'created'],
  ['a factor deleted again', ['created 1 @10', 'deleted 1 @20'], 1000, 'pending'],
  ['closed without a verified factor', ['created 1 @10'], 600_000, 'expired'],
])('window: %s', (_name, specs, now, status) => {
  const m = play(specs, openWindow(fresh(), 600, 0));
  expect(settle(m, now).view.status).toBe(status);
});

test('the window opens, lasts longer when asked again, never shorter; a verified factor closes it', () => {
  const open = openWindow(fresh(), 600, 0);
  expect(open.deadlineMs).toBe(600_000);
  expect(openWindow(open, 60, 1000).deadlineMs).toBe(600_000);
  expect(openWindow(open, 600, 100_000).deadlineMs).toBe(700_000);
  const verified = play(['verified 1 @10'], open);
  expect(openWindow(verified, 600, 0)).toBe(verified);
  const settled = settle(verified, 0);
  expect(settled.model.deadlineMs).toBeUndefined();
  expect(settled.view).toMatchObject({ status: 'verified', verified: true, deadline: undefined });
  expect(settle(open, 0).view.deadline).toBe(at(600));
});

const twoFactors = () => play(['verified 1 @10', 'created 2 @20', 'verified 2 @30']);
const approval = (change: Partial<ApproveFactorInput> = {}): ApproveFactorInput => ({
  factorSid: sid(2),
  verificationId: 'phone-approver',
  kind: 'phone',
  completedAt: at(40),
  ...change,
});
const refusal = (m: EnrollmentModel, raw: unknown): string | undefined => {
  try {
    validateApproval(raw, m);
    return undefined;
  } catch (err) {
    return err instanceof ApplicationFailure ? `${err.type}: ${err.message}` : `invalid: ${(err as Error).message}`;
  }
};

test.each<[string, unknown, string | undefined]>([
  ['a completed phone verification approves', approval(), undefined],
  [
    'a push approval on the other verified factor approves',
    approval({ kind: 'push', approvedOnFactorSid: sid(1) }),
    undefined,
  ],
  [
    'not a factor of this identity',
    approval({ factorSid: sid(9) }),
    `ApprovalRefused: factor ${sid(9)} is not a factor of this identity`,
  ],
  [
    'a factor that is already verified',
    approval({ factorSid: sid(1) }),
    `ApprovalRefused: factor ${sid(1)} is verified, not pending_approval`,
  ],
  [
    'a verification that completed before the factor was created',
    approval({ completedAt: at(15) }),
    'ApprovalRefused: phone-approver completed before the factor was created',
  ],
  [
    'a push approval on the factor itself',
    approval({ kind: 'push', approvedOnFactorSid: sid(2) }),
    'ApprovalRefused: a push approval must be given on another verified factor of this identity',
  ],
  [
    'a push approval without the factor it was given on',
    approval({ kind: 'push' }),
    'ApprovalRefused: a push approval must be given on another verified factor of this identity',
  ],
  [
    'a malformed request',
    { factorSid: 'nope' },
    expect.stringMatching(/^invalid: factorSid: must be a Factor SID/) as unknown as string,
  ],
])('validateApproval: %s', (_name, raw, refused) => {
  expect(refusal(twoFactors(), raw)).toEqual(refused);
});

test('an approved factor is verified and becomes the newest; its verification approves nothing else', () => {
  const m = approve(twoFactors(), approval(), at(50));
  expect(m.factors.find((f) => f.sid === sid(2))).toMatchObject({
    status: 'verified',
    approvedAt: at(50),
    approvedBy: 'phone-approver',
  });
  expect(settle(m, 0).view.factorSid).toBe(sid(2));
  expect(m.approvals).toEqual(['phone-approver']);
  const third = play(['verified 3 @60'], m);
  expect(statuses(third)[3]).toBe('pending_approval');
  expect(refusal(third, approval({ factorSid: sid(3), completedAt: at(70) }))).toBe(
    'ApprovalRefused: phone-approver already approved a factor',
  );
});

test('verifiedFactors: newest first by approval, else verification, else creation', () => {
  const factors = [
    { sid: 'a', status: 'verified' as const, createdAt: at(1), verifiedAt: at(5) },
    { sid: 'b', status: 'verified' as const, createdAt: at(2), verifiedAt: at(3), approvedAt: at(9) },
    { sid: 'c', status: 'pending_approval' as const, createdAt: at(8), verifiedAt: at(8) },
    { sid: 'd', status: 'verified' as const, createdAt: at(7) },
  ];
  expect(verifiedFactors(factors).map((f) => f.sid)).toEqual(['b', 'd', 'a']);
});

test('carried-over factors and approvals start the next run where the last one stopped', () => {
  const m = initialEnrollment({
    identity: IDENTITY,
    factors: twoFactors().factors.map((f) => ({ ...f })),
    deadline: at(600),
    approvals: ['push-earlier'],
  });
  expect(m).toMatchObject({ everHadFactor: true, deadlineMs: 600_000, approvals: ['push-earlier'] });
  expect(settle(m, 0).view).toMatchObject({ status: 'verified', factorSid: sid(1) });
});

test('describeEnrollment says what it waits for', () => {
  const open = openWindow(fresh(), 600, 0);
  expect(describeEnrollment(open, settle(open, 0).view, 0)).toBe('waiting for factor.created until 00:10:00 UTC');
  const created = play(['created 1 @10'], open);
  expect(describeEnrollment(created, settle(created, 0).view, 0)).toBe(
    'waiting for factor.verified until 00:10:00 UTC',
  );
  const verified = settle(twoFactors(), 0);
  expect(describeEnrollment(verified.model, verified.view, 0)).toBe(`verified factor ${sid(1)} (2 factor(s))`);
  expect(describeEnrollment(fresh(), settle(fresh(), 0).view, 0)).toBe('expired');
});
