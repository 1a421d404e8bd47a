/**
 * The transitions of a push verification as pure functions over a value: the challenge and its answer (webhook or
 * poll), when to poll, resend or give up, and whether the fallback phone verification runs. No Temporal calls, no clock
 * (the driver passes `now`): `test/unit/push-state.test.ts` runs them without a server.
 */
import { isTerminal, type PushProviderEvent, type Reason, type VerificationStatus } from '../contract/common';
import { pushContract, type PushVerificationState } from '../contract/push';

/** A Twilio notification lives at most 300 s. */
export const MAX_NOTIFICATION_TTL_SECONDS = 300;

export type Answer = 'approved' | 'denied';

/** Everything a push verification knows: the state `getState` answers, the answer, and why push gave up. */
export interface PushModel {
  readonly state: PushVerificationState;
  /** The user's answer to our challenge (webhook or poll); the first one stands. */
  readonly answer?: Answer;
  /** Why push could not finish by itself (`no_verified_factor`, `expired`, `user_denied`). */
  readonly pushReason?: Reason;
}

export interface PushStart {
  id: string;
  client?: string;
  /** Epoch milliseconds. */
  startedAt: number;
  expiresAt: number;
}

export function initialPush(start: PushStart): PushModel {
  const startedAt = new Date(start.startedAt).toISOString();
  return {
    state: {
      id: start.id,
      kind: 'push',
      ...(start.client ? { client: start.client } : {}),
      status: 'pending',
      resends: 0,
      expiresAt: new Date(start.expiresAt).toISOString(),
      startedAt,
      updatedAt: startedAt,
    },
  };
}

const update = (m: PushModel, change: Partial<PushVerificationState>, now: string): PushModel => ({
  ...m,
  state: { ...m.state, ...change, updatedAt: now },
});

/** Ends the verification; one that is over stays as it ended. */
export const finish = (m: PushModel, status: VerificationStatus, reason: Reason, now: string): PushModel =>
  isTerminal(m.state.status) ? m : update(m, { status, reason }, now);

/** Push cannot finish by itself: the fallback (or the matching terminal status) applies. */
export const giveUp = (m: PushModel, pushReason: Reason): PushModel => ({ ...m, pushReason });

/** The one challenge of this verification was created: waiting for the user. */
export const challengeCreated = (m: PushModel, c: { sid: string; factorSid: string }, now: string): PushModel =>
  update(m, { challengeSid: c.sid, factorSid: c.factorSid, status: 'action_pending' }, now);

/** The answer a Twilio webhook carries (challenge events only). */
export function answerOf(event: PushProviderEvent): Answer | undefined {
  if (event.type === 'challenge.approved') return 'approved';
  if (event.type === 'challenge.denied') return 'denied';
  return undefined;
}

/** Records the user's answer; the first one stands, and a verification that is over takes none. */
export const answered = (m: PushModel, answer: Answer, now: string): PushModel =>
  m.answer || isTerminal(m.state.status) ? m : { ...m, answer, state: { ...m.state, updatedAt: now } };

/** Applies a poll of the challenge: its answer, or that it expired at Twilio; anything else changes nothing. */
export function polled(m: PushModel, status: string, now: string): PushModel {
  if (m.answer || isTerminal(m.state.status)) return m;
  if (status === 'approved' || status === 'denied') return answered(m, status, now);
  return status === 'expired' ? giveUp(m, 'expired') : m;
}

/** While this holds, the run waits for the answer to its challenge. */
export const awaitingAnswer = (m: PushModel): boolean =>
  !!m.state.challengeSid && !isTerminal(m.state.status) && !m.pushReason;

/** The timers of the wait (epoch milliseconds; `Infinity` for none). */
export interface PushClock {
  readonly expiresAt: number;
  readonly pollMs: number;
  readonly resendMs?: number;
  readonly nextPollAt: number;
  readonly nextResendAt: number;
}

/** The wait starts once the challenge exists: the first poll and the first resend are counted from then. */
export const startClock = (
  expiresAt: number,
  pollMs: number,
  resendMs: number | undefined,
  now: number,
): PushClock => ({
  expiresAt,
  pollMs,
  resendMs,
  nextPollAt: now + pollMs,
  nextResendAt: resendMs !== undefined ? now + resendMs : Infinity,
});

/** The next step of the wait, in priority order. */
export type PushStep =
  | { do: 'cancel' }
  | { do: 'complete' }
  | { do: 'deny' }
  | { do: 'final-poll' }
  | { do: 'poll' }
  | { do: 'resend'; ttlSeconds: number }
  | { do: 'wait'; ms: number; summary: string };

export function nextPushStep(m: PushModel, cancelRequested: boolean, clock: PushClock, now: number): PushStep {
  if (cancelRequested) return { do: 'cancel' };
  if (m.answer === 'approved') return { do: 'complete' };
  if (m.answer === 'denied') return { do: 'deny' };
  // One last look before giving up: an approval whose webhook got lost still counts.
  if (now >= clock.expiresAt) return { do: 'final-poll' };
  if (now >= clock.nextPollAt) return { do: 'poll' };
  if (now >= clock.nextResendAt) {
    return {
      do: 'resend',
      ttlSeconds: Math.min(MAX_NOTIFICATION_TTL_SECONDS, Math.ceil((clock.expiresAt - now) / 1000)),
    };
  }
  const wakeAt = Math.min(clock.expiresAt, clock.nextPollAt, clock.nextResendAt);
  const summary =
    wakeAt === clock.expiresAt ? 'push challenge expiry' : wakeAt === clock.nextPollAt ? 'next poll' : 'resend';
  return { do: 'wait', ms: Math.max(1, wakeAt - now), summary };
}

/** A denial is final, unless the caller asked to fall back on it too. */
export const denied = (m: PushModel, fallBackOnDeny: boolean, now: string): PushModel =>
  fallBackOnDeny ? giveUp(m, 'user_denied') : finish(m, 'failed', 'user_denied', now);

/** The last poll found no answer: push expired. */
export const expiredUnlessAnswered = (m: PushModel): PushModel => (m.answer ? m : giveUp(m, 'expired'));

/** The poll is done: the next one in `pollMs`. */
export const polledAt = (clock: PushClock, now: number): PushClock => ({ ...clock, nextPollAt: now + clock.pollMs });

/** A resend is being tried: no other one until it went out (a failed resend ends the resends). */
export const resending = (clock: PushClock): PushClock => ({ ...clock, nextResendAt: Infinity });

/** A notification went out again: counted, and the next one scheduled while Twilio allows more. */
export function resent(m: PushModel, clock: PushClock, now: number): { model: PushModel; clock: PushClock } {
  const resends = m.state.resends + 1;
  const again = resends < pushContract.defaults.maxResends && clock.resendMs !== undefined;
  return {
    model: update(m, { resends }, new Date(now).toISOString()),
    clock: { ...clock, nextResendAt: again ? now + clock.resendMs! : Infinity },
  };
}

/**
 * After the wait: a cancelled run ends cancelled; push gave up — the fallback runs when there is one, else the
 * matching terminal status (`expired`, else `failed`) with push's reason.
 */
export function afterWait(
  m: PushModel,
  cancelRequested: boolean,
  hasFallback: boolean,
  now: string,
): { model: PushModel; fallback: boolean } {
  if (!isTerminal(m.state.status) && cancelRequested)
    return { model: finish(m, 'cancelled', 'cancelled', now), fallback: false };
  if (isTerminal(m.state.status) || !m.pushReason) return { model: m, fallback: false };
  const withReason: PushModel = { ...m, state: { ...m.state, pushReason: m.pushReason } };
  if (hasFallback) return { model: withReason, fallback: true };
  return {
    model: finish(withReason, m.pushReason === 'expired' ? 'expired' : 'failed', m.pushReason, now),
    fallback: false,
  };
}

/** The fallback phone verification started: its outcome will be ours. */
export const fallbackStarted = (m: PushModel, fallbackId: string, now: string): PushModel =>
  update(m, { fallbackId, status: 'pending' }, now);

/** The fallback's result becomes ours. */
export const fallbackEnded = (
  m: PushModel,
  result: { status: VerificationStatus; reason?: Reason },
  now: string,
): PushModel =>
  finish(m, result.status, result.reason ?? (result.status === 'completed' ? 'verified' : 'fallback_failed'), now);

/** The Web UI's current details. */
export function describePush(m: PushModel): string {
  const s = m.state;
  if (isTerminal(s.status)) return `${s.status}${s.reason ? ` (${s.reason})` : ''}`;
  if (s.fallbackId) return `push ${s.pushReason}: waiting for the fallback phone verification ${s.fallbackId}`;
  if (!s.challengeSid) return 'finding the verified push factor';
  const resends = s.resends ? `, ${s.resends} notification(s) resent` : '';
  return `waiting for the push answer to ${s.challengeSid}${resends}, expires ${s.expiresAt.slice(11, 19)} UTC`;
}
