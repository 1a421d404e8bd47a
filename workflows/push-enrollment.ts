import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  log,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { parseInput } from './common';
import { FailureType, formatIssues, SA_CLIENT, SA_KIND, SA_PROVIDER, SA_STATUS, shared } from './contract/common';
import {
  type ApproveFactorInput,
  pushEnrollmentContract,
  type PushEnrollmentFactor,
  type PushEnrollmentInput,
  type PushEnrollmentState,
} from './contract/push-enrollment';

/** Processed events after which the run continues as new, keeping its history short. */
const EVENTS_PER_RUN = 500;
/** Twilio allows at most 20 push factors per entity. */
const MAX_FACTORS = 20;

/**
 * One per identity (`push-enrollment-<entity identity>`): follows the identity's push factors through the Verify
 * webhooks `factor.created` → `factor.verified` (and `factor.deleted`), so the platform can ask whether a user has a
 * verified push factor — and which — without calling Twilio. An access-token request opens an enrollment window
 * (`enrollmentRequested`, signal-with-start); when it closes without a verified factor the run ends `expired`. While
 * a verified factor exists the run stays open (continuing as new when its history grows), and ends `removed` when
 * every factor was deleted.
 *
 * Only the first factor is trusted on Twilio's word: a factor verified while the identity already has a verified
 * factor waits in `pending_approval` and receives no challenge until `approveFactor` (a push challenge approved on an
 * existing factor, or a completed phone verification of the client) — so whoever gets hold of an access token cannot
 * enroll a device of their own and answer the next challenge.
 */
// Time here is the workflow clock: Date.now() and new Date() are deterministic inside the workflow sandbox.
export async function pushEnrollment(rawInput: PushEnrollmentInput): Promise<PushEnrollmentState> {
  const input = parseInput(pushEnrollmentContract.schemas().input, rawInput, 'pushEnrollment');
  const factors: PushEnrollmentFactor[] = (input.factors ?? []).map((f) => ({ ...f }));
  let deadlineMs = input.deadline ? Date.parse(input.deadline) : undefined;
  let everHadFactor = factors.length > 0;
  let tick = 0;
  let processed = 0;
  const seenEvents = new Set<string>();
  const now = new Date().toISOString();
  const approvals: string[] = [...(input.approvals ?? [])];
  const state: PushEnrollmentState = {
    id: workflowInfo().workflowId,
    kind: 'push_enrollment',
    identity: input.identity,
    ...(input.client ? { client: input.client } : {}),
    status: 'pending',
    verified: false,
    factors,
    startedAt: now,
    updatedAt: now,
  };

  /** A factor's recency: approved, else verified, else created. */
  const newest = (f: PushEnrollmentFactor): string => f.approvedAt ?? f.verifiedAt ?? f.createdAt;
  const windowOpen = (): boolean => deadlineMs !== undefined && Date.now() < deadlineMs;
  const refresh = (): void => {
    const verified = factors.filter((f) => f.status === 'verified').sort((a, b) => newest(b).localeCompare(newest(a)));
    state.verified = verified.length > 0;
    state.factorSid = verified[0]?.sid;
    if (state.verified) deadlineMs = undefined;
    state.deadline = deadlineMs !== undefined ? new Date(deadlineMs).toISOString() : undefined;
    if (state.verified) state.status = 'verified';
    else if (windowOpen()) state.status = factors.length ? 'created' : 'pending';
    else state.status = everHadFactor && !factors.length ? 'removed' : 'expired';
  };
  const touch = (): void => {
    refresh();
    state.updatedAt = new Date().toISOString();
    tick++;
  };
  const publish = (): void => {
    upsertSearchAttributes([
      { key: SA_KIND, value: 'push_enrollment' },
      { key: SA_STATUS, value: state.status },
      { key: SA_PROVIDER, value: 'twilio' },
      ...(input.client ? [{ key: SA_CLIENT, value: input.client }] : []),
    ]);
  };
  const describe = (): string => {
    if (state.verified) return `verified factor ${state.factorSid} (${factors.length} factor(s))`;
    if (windowOpen()) {
      const waiting = state.status === 'created' ? 'factor.verified' : 'factor.created';
      return `waiting for ${waiting} until ${state.deadline?.slice(11, 19)} UTC`;
    }
    return state.status;
  };

  setHandler(pushEnrollmentContract.messages.getState, () => state);

  setHandler(pushEnrollmentContract.messages.enrollmentRequested, (raw) => {
    const r = pushEnrollmentContract.schemas().enrollmentRequest.safeParse(raw ?? {});
    if (!r.success) {
      log.warn('malformed enrollment request dropped', { issues: formatIssues(r.error) });
      return;
    }
    if (state.verified) return; // a further device may enroll; its factor events are followed all the same
    const until = Date.now() + (r.data.timeoutSeconds ?? pushEnrollmentContract.defaults.timeoutSeconds) * 1000;
    deadlineMs = Math.max(deadlineMs ?? 0, until);
    touch();
  });

  setHandler(pushEnrollmentContract.messages.providerEvent, (raw) => {
    const r = shared.pushProviderEvent().safeParse(raw);
    if (!r.success) {
      log.warn('malformed provider event dropped', { issues: formatIssues(r.error) });
      return;
    }
    const event = r.data;
    if (seenEvents.has(event.eventId)) return;
    seenEvents.add(event.eventId);
    processed++;
    if (event.identity !== input.identity || !event.factorSid || !event.type.startsWith('factor.')) return;
    const at = event.occurredAt ?? new Date().toISOString();
    const existing = factors.find((f) => f.sid === event.factorSid);
    switch (event.type) {
      case 'factor.created':
        if (!existing && factors.length < MAX_FACTORS)
          factors.push({ sid: event.factorSid, status: 'unverified', createdAt: at });
        everHadFactor = true;
        break;
      case 'factor.verified': {
        // factor.verified may overtake factor.created: it is enough on its own. A further factor waits for approval.
        const trusted = factors.some((f) => f.status === 'verified' && f.sid !== event.factorSid);
        const status = trusted ? 'pending_approval' : 'verified';
        if (existing) {
          if (existing.status === 'unverified') existing.status = status;
          existing.verifiedAt ??= at;
        } else if (factors.length < MAX_FACTORS) {
          factors.push({ sid: event.factorSid, status, createdAt: at, verifiedAt: at });
        }
        everHadFactor = true;
        break;
      }
      case 'factor.deleted':
        if (existing) factors.splice(factors.indexOf(existing), 1);
        break;
    }
    touch();
  });

  setHandler(
    pushEnrollmentContract.messages.approveFactor,
    (req: ApproveFactorInput) => {
      const factor = factors.find((f) => f.sid === req.factorSid)!;
      factor.status = 'verified';
      factor.approvedAt = new Date().toISOString();
      factor.approvedBy = req.verificationId;
      approvals.push(req.verificationId);
      touch();
      return state;
    },
    { validator: (req) => validateApproval(req, factors, approvals) },
  );

  refresh();
  publish();
  let published = state.status;
  for (;;) {
    refresh();
    if (state.status !== published) {
      publish();
      published = state.status;
    }
    setCurrentDetails(describe());
    if (!state.verified && !windowOpen()) break;
    if (processed >= EVENTS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof pushEnrollment>({
        identity: input.identity,
        ...(input.client ? { client: input.client } : {}),
        factors: factors.map((f) => ({ ...f })),
        deadline: state.deadline,
        approvals: approvals.slice(-100),
      });
    }
    const seen = tick;
    if (state.verified) await condition(() => tick !== seen);
    else await condition(() => tick !== seen, Math.max(1, deadlineMs! - Date.now()), { summary: 'enrollment window' });
  }

  await condition(allHandlersFinished);
  return state;
}

/**
 * `approveFactor`'s validator (rejected before history): the factor waits for approval; the approving verification
 * approved nothing before and completed after the factor was created; a push approval was given on a verified factor of
 * this identity.
 */
function validateApproval(raw: unknown, factors: PushEnrollmentFactor[], approvals: string[]): void {
  const refuse = (message: string): never => {
    throw ApplicationFailure.create({ type: FailureType.ApprovalRefused, message, nonRetryable: true });
  };
  const parsed = pushEnrollmentContract.schemas().approveFactorInput.safeParse(raw);
  if (!parsed.success) throw new Error(formatIssues(parsed.error));
  const req = parsed.data;
  const factor = factors.find((f) => f.sid === req.factorSid);
  if (!factor) refuse(`factor ${req.factorSid} is not a factor of this identity`);
  if (factor!.status !== 'pending_approval')
    refuse(`factor ${req.factorSid} is ${factor!.status}, not pending_approval`);
  if (approvals.includes(req.verificationId)) refuse(`${req.verificationId} already approved a factor`);
  if (!(Date.parse(req.completedAt) >= Date.parse(factor!.createdAt))) {
    refuse(`${req.verificationId} completed before the factor was created`);
  }
  if (req.kind === 'push') {
    const on = factors.find((f) => f.sid === req.approvedOnFactorSid);
    if (!on || on.status !== 'verified' || on.sid === req.factorSid) {
      refuse('a push approval must be given on another verified factor of this identity');
    }
  }
}
