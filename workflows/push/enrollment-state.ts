/**
 * The transitions of a push enrollment as pure functions over a value: factor events (`factor.created`,
 * `factor.verified` — a further factor waits in `pending_approval` —, `factor.deleted`), the enrollment window,
 * approvals and their validation, the newest approved factor and the status. No Temporal calls, no clock (the driver
 * passes `now`): `test/unit/push-enrollment-state.test.ts` runs them without a server.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType, formatIssues, type PushProviderEvent } from '../contract/common';
import {
  type ApproveFactorInput,
  pushEnrollmentContract,
  type PushEnrollmentFactor,
  type PushEnrollmentInput,
  type PushEnrollmentState,
} from '../contract/push-enrollment';

/** Twilio allows at most 20 push factors per entity. */
export const MAX_FACTORS = 20;

/** Everything an enrollment knows (and carries over continue-as-new). */
export interface EnrollmentModel {
  /** The Twilio entity identity. */
  readonly identity: string;
  readonly factors: readonly PushEnrollmentFactor[];
  /** A factor was ever created or verified: with none left, the enrollment was `removed` rather than `expired`. */
  readonly everHadFactor: boolean;
  /** End of the open enrollment window (epoch milliseconds), if any. */
  readonly deadlineMs?: number;
  /** The verifications that approved a factor (each approves one factor, once). */
  readonly approvals: readonly string[];
}

/** What the state shows of the model at a given time. */
export type EnrollmentView = Pick<PushEnrollmentState, 'status' | 'verified' | 'factorSid' | 'deadline'>;

export function initialEnrollment(
  input: Pick<PushEnrollmentInput, 'identity' | 'factors' | 'deadline' | 'approvals'>,
): EnrollmentModel {
  const factors = (input.factors ?? []).map((f) => ({ ...f }));
  return {
    identity: input.identity,
    factors,
    everHadFactor: factors.length > 0,
    deadlineMs: input.deadline ? Date.parse(input.deadline) : undefined,
    approvals: [...(input.approvals ?? [])],
  };
}

/** A factor's recency: approved, else verified, else created. */
const recency = (f: PushEnrollmentFactor): string => f.approvedAt ?? f.verifiedAt ?? f.createdAt;

/** The verified factors, newest first: challenges go to the first. */
export const verifiedFactors = (factors: readonly PushEnrollmentFactor[]): PushEnrollmentFactor[] =>
  factors.filter((f) => f.status === 'verified').sort((a, b) => recency(b).localeCompare(recency(a)));

export const hasVerifiedFactor = (m: EnrollmentModel): boolean => m.factors.some((f) => f.status === 'verified');

export const windowOpen = (m: EnrollmentModel, now: number): boolean =>
  m.deadlineMs !== undefined && now < m.deadlineMs;

/**
 * The status at `now`: `verified` while a verified factor exists (no window then); else, while the window is open,
 * `created` or `pending`; else `removed` when every factor was deleted, `expired` when none was verified in time.
 */
export function settle(m: EnrollmentModel, now: number): { model: EnrollmentModel; view: EnrollmentView } {
  const verified = verifiedFactors(m.factors);
  const model = verified.length && m.deadlineMs !== undefined ? { ...m, deadlineMs: undefined } : m;
  const status: EnrollmentView['status'] = verified.length
    ? 'verified'
    : windowOpen(model, now)
      ? model.factors.length
        ? 'created'
        : 'pending'
      : model.everHadFactor && !model.factors.length
        ? 'removed'
        : 'expired';
  const deadline = model.deadlineMs !== undefined ? new Date(model.deadlineMs).toISOString() : undefined;
  return { model, view: { status, verified: verified.length > 0, factorSid: verified[0]?.sid, deadline } };
}

/** An access token was brokered: the window opens (or lasts longer). An identity with a verified factor has none. */
export function openWindow(m: EnrollmentModel, timeoutSeconds: number, now: number): EnrollmentModel {
  if (hasVerifiedFactor(m)) return m;
  return { ...m, deadlineMs: Math.max(m.deadlineMs ?? 0, now + timeoutSeconds * 1000) };
}

/** Whether a Twilio event is about a factor of this identity (the rest is not the enrollment's business). */
export const isFactorEvent = (m: EnrollmentModel, e: PushProviderEvent): boolean =>
  e.identity === m.identity && !!e.factorSid && e.type.startsWith('factor.');

/**
 * Applies a factor event. `factor.verified` may overtake `factor.created`: it is enough on its own. Only the first
 * factor is trusted on Twilio's word: one verified while another factor is verified waits in `pending_approval`.
 */
export function applyFactorEvent(m: EnrollmentModel, e: PushProviderEvent, now: string): EnrollmentModel {
  const sid = e.factorSid!;
  const at = e.occurredAt ?? now;
  const existing = m.factors.find((f) => f.sid === sid);
  const room = m.factors.length < MAX_FACTORS;
  switch (e.type) {
    case 'factor.created': {
      const factors =
        !existing && room ? [...m.factors, { sid, status: 'unverified' as const, createdAt: at }] : m.factors;
      return { ...m, factors, everHadFactor: true };
    }
    case 'factor.verified': {
      const trusted = m.factors.some((f) => f.status === 'verified' && f.sid !== sid);
      const status = trusted ? ('pending_approval' as const) : ('verified' as const);
      const factors = existing
        ? m.factors.map((f) =>
            f === existing
              ? { ...f, status: f.status === 'unverified' ? status : f.status, verifiedAt: f.verifiedAt ?? at }
              : f,
          )
        : room
          ? [...m.factors, { sid, status, createdAt: at, verifiedAt: at }]
          : m.factors;
      return { ...m, factors, everHadFactor: true };
    }
    case 'factor.deleted':
      return existing ? { ...m, factors: m.factors.filter((f) => f !== existing) } : m;
    default:
      return m;
  }
}

/**
 * `approveFactor`'s validator (rejected before history): the factor waits for approval; the approving verification
 * approved nothing before and completed after the factor was created; a push approval was given on a verified factor of
 * this identity.
 */
export function validateApproval(raw: unknown, m: EnrollmentModel): void {
  const refuse = (message: string): never => {
    throw ApplicationFailure.create({ type: FailureType.ApprovalRefused, message, nonRetryable: true });
  };
  const parsed = pushEnrollmentContract.schemas().approveFactorInput.safeParse(raw);
  if (!parsed.success) throw new Error(formatIssues(parsed.error));
  const req = parsed.data;
  const factor = m.factors.find((f) => f.sid === req.factorSid);
  if (!factor) return refuse(`factor ${req.factorSid} is not a factor of this identity`);
  if (factor.status !== 'pending_approval') refuse(`factor ${req.factorSid} is ${factor.status}, not pending_approval`);
  if (m.approvals.includes(req.verificationId)) refuse(`${req.verificationId} already approved a factor`);
  if (!(Date.parse(req.completedAt) >= Date.parse(factor.createdAt))) {
    refuse(`${req.verificationId} completed before the factor was created`);
  }
  if (req.kind === 'push') {
    const on = m.factors.find((f) => f.sid === req.approvedOnFactorSid);
    if (!on || on.status !== 'verified' || on.sid === req.factorSid) {
      refuse('a push approval must be given on another verified factor of this identity');
    }
  }
}

/** Approves a `pending_approval` factor (validated by `validateApproval`): it is verified from now on. */
export function approve(m: EnrollmentModel, req: ApproveFactorInput, now: string): EnrollmentModel {
  const factors = m.factors.map((f) =>
    f.sid === req.factorSid
      ? { ...f, status: 'verified' as const, approvedAt: now, approvedBy: req.verificationId }
      : f,
  );
  return { ...m, factors, approvals: [...m.approvals, req.verificationId] };
}

/** The Web UI's current details. */
export function describeEnrollment(m: EnrollmentModel, view: EnrollmentView, now: number): string {
  if (view.verified) return `verified factor ${view.factorSid} (${m.factors.length} factor(s))`;
  if (windowOpen(m, now)) {
    const waiting = view.status === 'created' ? 'factor.verified' : 'factor.created';
    return `waiting for ${waiting} until ${view.deadline?.slice(11, 19)} UTC`;
  }
  return view.status;
}
