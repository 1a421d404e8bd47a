import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { parseInput } from './common';
import {
  DEFAULT_PUSH_ENROLLMENT_TIMEOUT_SECONDS,
  enrollmentRequested,
  enrollmentRequestSchema,
  formatIssues,
  getEnrollmentState,
  pushEnrollmentInputSchema,
  pushProviderEvent,
  pushProviderEventSchema,
  SA_KIND,
  SA_PROVIDER,
  SA_STATUS,
  type PushEnrollmentFactor,
  type PushEnrollmentInput,
  type PushEnrollmentState,
} from './definitions';

/** Processed events after which the run continues as new, keeping its history short. */
const EVENTS_PER_RUN = 500;
/** Twilio allows at most 20 push factors per entity. */
const MAX_FACTORS = 20;

/**
 * One per identity (`push-enrollment-<identity>`): follows the identity's push factors through the Verify webhooks
 * `factor.created` → `factor.verified` (and `factor.deleted`), so the platform can ask whether a user has a verified
 * push factor — and which — without calling Twilio. An access-token request opens an enrollment window
 * (`enrollmentRequested`, signal-with-start); when it closes without a verified factor the run ends `expired`. While
 * a verified factor exists the run stays open (continuing as new when its history grows), and ends `removed` when
 * every factor was deleted.
 */
// Time here is the workflow clock: Date.now() and new Date() are deterministic inside the workflow sandbox.
export async function pushEnrollment(rawInput: PushEnrollmentInput): Promise<PushEnrollmentState> {
  const input = parseInput(pushEnrollmentInputSchema, rawInput, 'pushEnrollment');
  const factors: PushEnrollmentFactor[] = (input.factors ?? []).map((f) => ({ ...f }));
  let deadlineMs = input.deadline ? Date.parse(input.deadline) : undefined;
  let everHadFactor = factors.length > 0;
  let tick = 0;
  let processed = 0;
  const seenEvents = new Set<string>();
  const now = new Date().toISOString();
  const state: PushEnrollmentState = {
    id: workflowInfo().workflowId,
    kind: 'push_enrollment',
    identity: input.identity,
    status: 'pending',
    verified: false,
    factors,
    startedAt: now,
    updatedAt: now,
  };

  const windowOpen = (): boolean => deadlineMs !== undefined && Date.now() < deadlineMs;
  const refresh = (): void => {
    const verified = factors
      .filter((f) => f.status === 'verified')
      .sort((a, b) => (b.verifiedAt ?? b.createdAt).localeCompare(a.verifiedAt ?? a.createdAt));
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

  setHandler(getEnrollmentState, () => state);

  setHandler(enrollmentRequested, (raw) => {
    const r = enrollmentRequestSchema.safeParse(raw ?? {});
    if (!r.success) {
      log.warn('malformed enrollment request dropped', { issues: formatIssues(r.error) });
      return;
    }
    if (state.verified) return; // a further device may enroll; its factor events are followed all the same
    const until = Date.now() + (r.data.timeoutSeconds ?? DEFAULT_PUSH_ENROLLMENT_TIMEOUT_SECONDS) * 1000;
    deadlineMs = Math.max(deadlineMs ?? 0, until);
    touch();
  });

  setHandler(pushProviderEvent, (raw) => {
    const r = pushProviderEventSchema.safeParse(raw);
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
      case 'factor.verified':
        // factor.verified may overtake factor.created: it is enough on its own.
        if (existing) {
          existing.status = 'verified';
          existing.verifiedAt = at;
        } else if (factors.length < MAX_FACTORS) {
          factors.push({ sid: event.factorSid, status: 'verified', createdAt: at, verifiedAt: at });
        }
        everHadFactor = true;
        break;
      case 'factor.deleted':
        if (existing) factors.splice(factors.indexOf(existing), 1);
        break;
    }
    touch();
  });

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
        factors: factors.map((f) => ({ ...f })),
        deadline: state.deadline,
      });
    }
    const seen = tick;
    if (state.verified) await condition(() => tick !== seen);
    else await condition(() => tick !== seen, Math.max(1, deadlineMs! - Date.now()), { summary: 'enrollment window' });
  }

  await condition(allHandlersFinished);
  return state;
}
