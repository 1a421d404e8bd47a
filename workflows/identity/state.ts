/**
 * The transitions of an identity verification as pure functions over a value: apply what Stripe reports about the
 * session (an event or a fresh read), count failed attempts once per submission, tell a stale event from a fresh one,
 * match the verified outputs against the expected values, decide the next step. No Temporal calls, no clock (the
 * driver passes `now`): `test/unit/identity-state.test.ts` runs them without a server.
 */
import type { StripeSessionSnapshot } from '../../providers/stripe/identity';
import { type IdentityProviderEvent, isTerminal, type VerificationStatus } from '../contract/common';
import {
  IDENTITY_REASONS,
  type IdentityReason,
  type IdentityVerificationInput,
  type IdentityVerificationResult,
  type IdentityVerificationState,
  type IdentityVerifiedOutputs,
  STRIPE_IDENTITY_TERMINAL_CODES,
  STRIPE_IDENTITY_UNCOUNTED_CODES,
} from '../contract/identity';
import { identityRedactionContract, type IdentityRedactionInfo } from '../contract/identity-redaction';

const TERMINAL_CODES: readonly string[] = STRIPE_IDENTITY_TERMINAL_CODES;
const UNCOUNTED_CODES: readonly string[] = STRIPE_IDENTITY_UNCOUNTED_CODES;
const KNOWN_REASONS: readonly string[] = IDENTITY_REASONS;
/** The session statuses this version knows; another one is recorded and otherwise ignored. */
export const KNOWN_SESSION_STATUSES: readonly string[] = ['requires_input', 'processing', 'verified', 'canceled'];

export type ExpectedValues = NonNullable<IdentityVerificationInput['expected']>;
export type Mismatches = NonNullable<IdentityVerificationResult['mismatches']>;

/** Everything an identity verification knows: the state `getState` answers, plus what only the result carries. */
export interface IdentityModel {
  readonly state: IdentityVerificationState;
  /** Stripe's verified outputs (PII): in the result only, never in the state. */
  readonly verifiedOutputs?: IdentityVerifiedOutputs;
  /** With `expected_mismatch`: which expected fields differed. */
  readonly mismatches?: Mismatches;
  /** `created` (epoch seconds) of the newest event applied: an event not newer than it may be stale. */
  readonly newest: number;
  /** Submissions (verification report ids, else `event:<id>`) already counted as failed attempts. */
  readonly counted: readonly string[];
  /** The caller's expected values, matched against the verified outputs. */
  readonly expected?: ExpectedValues;
}

export interface IdentityStart {
  id: string;
  client?: string;
  type: IdentityVerificationState['type'];
  maxAttempts: number;
  expected?: ExpectedValues;
  /** Epoch milliseconds. */
  startedAt: number;
  deadline: number;
}

export function initialIdentity(start: IdentityStart): IdentityModel {
  const startedAt = new Date(start.startedAt).toISOString();
  return {
    state: {
      id: start.id,
      kind: 'identity',
      ...(start.client ? { client: start.client } : {}),
      type: start.type,
      status: 'pending',
      attempts: 0,
      maxAttempts: start.maxAttempts,
      expiresAt: new Date(start.deadline).toISOString(),
      startedAt,
      updatedAt: startedAt,
      redaction: { status: 'none' },
    },
    newest: 0,
    counted: [],
    ...(start.expected ? { expected: start.expected } : {}),
  };
}

const update = (m: IdentityModel, change: Partial<IdentityVerificationState>, now: string): IdentityModel => ({
  ...m,
  state: { ...m.state, ...change, updatedAt: now },
});

/** Ends the verification; a verification that is over stays as it ended. */
export function finish(
  m: IdentityModel,
  status: VerificationStatus,
  reason: IdentityReason,
  now: string,
): IdentityModel {
  return isTerminal(m.state.status) ? m : update(m, { status, reason }, now);
}

const waitFor = (m: IdentityModel, status: 'action_pending' | 'processing', now: string): IdentityModel =>
  isTerminal(m.state.status) ? m : update(m, { status }, now);

/** Counts one failed submission, once per verification report; codes the user did not cause are not counted. */
export function countAttempt(
  m: IdentityModel,
  code: string | null | undefined,
  submission: string | null | undefined,
  now: string,
): IdentityModel {
  if (!code || !submission || UNCOUNTED_CODES.includes(code) || m.counted.includes(submission)) return m;
  return { ...update(m, { attempts: m.state.attempts + 1 }, now), counted: [...m.counted, submission] };
}

/** The session needs the user again, with or without an error: terminal codes fail, correctable ones count. */
function requiresInput(m: IdentityModel, s: StripeSessionSnapshot, now: string): IdentityModel {
  const code = s.lastErrorCode;
  if (!code) return waitFor(m, 'action_pending', now);
  const lastError = { code, ...(s.lastErrorMessage ? { message: s.lastErrorMessage } : {}) };
  const next = countAttempt(update(m, { lastError }, now), code, s.reportId, now);
  if (TERMINAL_CODES.includes(code)) return finish(next, 'failed', code as IdentityReason, now);
  if (next.state.attempts >= next.state.maxAttempts && !UNCOUNTED_CODES.includes(code)) {
    return finish(next, 'failed', KNOWN_REASONS.includes(code) ? (code as IdentityReason) : 'max_attempts', now);
  }
  return waitFor(next, 'action_pending', now);
}

/** Verified at Stripe: completed, unless the outputs differ from the expected values. */
function verified(m: IdentityModel, outputs: IdentityVerifiedOutputs | undefined, now: string): IdentityModel {
  const differing = m.expected && outputs ? compareExpected(m.expected, outputs) : [];
  if (differing.length) {
    return { ...finish(m, 'failed', 'expected_mismatch', now), verifiedOutputs: undefined, mismatches: differing };
  }
  return { ...finish(m, 'completed', 'verified', now), verifiedOutputs: outputs };
}

/** Applies the session as Stripe reports it (an event, or a fresh read). A verification that is over stays over. */
export function applySnapshot(m: IdentityModel, s: StripeSessionSnapshot, now: string): IdentityModel {
  const seen: IdentityModel = { ...m, state: { ...m.state, sessionStatus: s.status } };
  if (isTerminal(m.state.status)) return seen;
  switch (s.status) {
    case 'verified':
      return verified(seen, s.verifiedOutputs, now);
    case 'processing':
      return waitFor(seen, 'processing', now);
    case 'requires_input':
      return requiresInput(seen, s, now);
    case 'canceled':
      // Cancelled at Stripe by someone else (the Dashboard, another integration).
      return finish(seen, 'cancelled', 'cancelled', now);
    default:
      return seen;
  }
}

/** The one session of this verification was created: it is ours from now on. */
export const sessionCreated = (m: IdentityModel, s: StripeSessionSnapshot, now: string): IdentityModel =>
  applySnapshot({ ...m, state: { ...m.state, sessionId: s.id } }, s, now);

/** Stripe cancelled the session at our request. */
export const sessionCancelled = (m: IdentityModel, now: string): IdentityModel =>
  update(m, { sessionStatus: 'canceled' }, now);

/** What to do with an event of our session: nothing, apply the session it carries, or read the session first. */
export type EventStep = { ignore: true } | { apply: StripeSessionSnapshot } | { read: string };

/** The session as an event saw it (events carry no verified outputs). */
const snapshotOf = (e: IdentityProviderEvent): StripeSessionSnapshot => ({
  id: e.sessionId,
  status: e.sessionStatus,
  lastErrorCode: e.lastErrorCode ?? null,
  lastErrorMessage: e.lastErrorMessage ?? null,
  reportId: e.reportId ?? null,
  redactionStatus: e.redactionStatus ?? null,
});

/**
 * Takes an event of our session. A failed submission counts even when its event arrives late (its report id counts
 * it once). Stripe delivers events unordered: one not newer than the newest applied may be stale, so the session is
 * read again instead. A verified session is always read, for its outputs. `created` tells nothing the creation did
 * not; `redacted` belongs to identityRedaction.
 */
export function takeEvent(
  m: IdentityModel,
  e: IdentityProviderEvent,
  now: string,
): { model: IdentityModel; step: EventStep } {
  if (e.type === 'created' || e.type === 'redacted') return { model: m, step: { ignore: true } };
  const counted =
    e.type === 'requires_input' ? countAttempt(m, e.lastErrorCode, e.reportId ?? `event:${e.eventId}`, now) : m;
  const stale = e.created <= counted.newest;
  const model = { ...counted, newest: Math.max(counted.newest, e.created) };
  if (e.type === 'verified') return { model, step: { read: 'retrieve the verified outputs' } };
  if (stale) return { model, step: { read: `re-read the session (${e.type} event may be stale)` } };
  if (e.sessionStatus === 'verified') return { model, step: { read: 'retrieve the verified outputs' } };
  return { model, step: { apply: snapshotOf(e) } };
}

/** What the run asked for, besides events. */
export interface IdentityRequests {
  cancelRequested: boolean;
  redactRequested: boolean;
  /** Events waiting to be taken. */
  queued: number;
  /** Epoch milliseconds. */
  now: number;
  deadline: number;
}

/** The next step of a live verification, in priority order. */
export type IdentityStep = 'redacted' | 'cancelled' | 'expired' | 'event' | 'wait';

export function nextIdentityStep(r: IdentityRequests): IdentityStep {
  // Redacting a requires_input session cancels it at Stripe: the redaction workflow does both.
  if (r.redactRequested) return 'redacted';
  if (r.cancelRequested) return 'cancelled';
  if (r.now >= r.deadline) return 'expired';
  return r.queued > 0 ? 'event' : 'wait';
}

/**
 * Whether the session of a verification that ends without success should be cancelled, so no one can submit to it any
 * more. Once only; not when it is already cancelled; not when a redaction follows (Stripe redacts a session waiting on
 * the user, cancelling it, but not a cancelled one).
 */
export const shouldRelease = (m: IdentityModel, released: boolean, redactionPlanned: boolean): boolean =>
  !released && !!m.state.sessionId && m.state.sessionStatus !== 'canceled' && !redactionPlanned;

/** The identityRedaction child a verification that is over starts: at once when asked, else after the delay. */
export interface RedactionPlan {
  workflowId: string;
  sessionId: string;
  delaySeconds: number;
}

/**
 * Plans the redaction and records it in the state (before the child starts, in the task that ends the verification:
 * a state read in between never shows a final status without the redaction that follows it).
 */
export function planRedaction(
  m: IdentityModel,
  redactRequested: boolean,
  redactAfterSeconds: number | undefined,
  now: number,
): { model: IdentityModel; plan?: RedactionPlan } {
  const sessionId = m.state.sessionId;
  if (!sessionId || (!redactRequested && redactAfterSeconds === undefined)) return { model: m };
  const delaySeconds = redactRequested ? 0 : redactAfterSeconds!;
  const workflowId = identityRedactionContract.id(sessionId);
  const redaction: IdentityRedactionInfo = {
    status: delaySeconds ? 'scheduled' : 'requested',
    workflowId,
    redactAt: new Date(now + delaySeconds * 1000).toISOString(),
  };
  return {
    model: update(m, { redaction }, new Date(now).toISOString()),
    plan: { workflowId, sessionId, delaySeconds },
  };
}

/** The workflow's result: the final state, plus the verified outputs or the mismatching fields. */
export const identityResult = (m: IdentityModel): IdentityVerificationResult => ({
  ...m.state,
  ...(m.verifiedOutputs ? { verifiedOutputs: m.verifiedOutputs } : {}),
  ...(m.mismatches ? { mismatches: m.mismatches } : {}),
});

/** The Web UI's current details. */
export function describeIdentity(m: IdentityModel): string {
  const s = m.state;
  const until = `deadline ${s.expiresAt.slice(0, 16).replace('T', ' ')} UTC`;
  const what = s.type === 'document' ? 'identity document' : 'ID number';
  switch (s.status) {
    case 'pending':
      return 'creating the Stripe Identity session';
    case 'action_pending':
      return `waiting for the user to submit their ${what} (attempt ${s.attempts + 1} of ${s.maxAttempts}${s.lastError ? `, last error ${s.lastError.code}` : ''}), ${until}`;
    case 'processing':
      return `Stripe is processing the submitted ${what}, ${until}`;
    default:
      return `${s.status}${s.reason ? ` (${s.reason})` : ''}`;
  }
}

/** Which `expected` fields differ from the verified outputs (names compared without case, accents or spacing). */
export function compareExpected(expected: ExpectedValues, outputs: IdentityVerifiedOutputs): Mismatches {
  const norm = (v: string | null | undefined) =>
    (v ?? '')
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[\s'’.-]+/g, ' ')
      .trim();
  const differing: Mismatches = [];
  if (expected.firstName !== undefined && norm(expected.firstName) !== norm(outputs.firstName)) {
    differing.push('firstName');
  }
  if (expected.lastName !== undefined && norm(expected.lastName) !== norm(outputs.lastName)) differing.push('lastName');
  if (
    expected.dob !== undefined &&
    (outputs.dob?.year !== expected.dob.year ||
      outputs.dob?.month !== expected.dob.month ||
      outputs.dob?.day !== expected.dob.day)
  ) {
    differing.push('dob');
  }
  return differing;
}
