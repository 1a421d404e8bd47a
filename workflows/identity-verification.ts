import {
  allHandlersFinished,
  CancellationScope,
  isCancellation,
  condition,
  log,
  ParentClosePolicy,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import {
  activitiesWithSummaries,
  failureType,
  parseInput,
  PROVIDER_ACTIVITY_OPTIONS,
  rejectIfNotLive as rejectIfNotLiveStatus,
  setCancelHandler,
} from './common';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { createIdentityActivities } from '../activities/identity';
import type { StripeSessionSnapshot } from '../providers/stripe/identity';
import {
  FailureType,
  formatIssues,
  type IdentityProviderEvent,
  isTerminal,
  providerRef,
  SA_CLIENT,
  SA_KIND,
  SA_PROVIDER,
  SA_PROVIDER_REF,
  SA_STATUS,
  shared,
  type VerificationStatus,
} from './contract/common';
import {
  IDENTITY_REASONS,
  identityContract,
  type IdentityReason,
  type IdentityVerificationInput,
  type IdentityVerificationResult,
  type IdentityVerificationState,
  type IdentityVerifiedOutputs,
  STRIPE_IDENTITY_TERMINAL_CODES,
  STRIPE_IDENTITY_UNCOUNTED_CODES,
} from './contract/identity';
import {
  identityRedactionContract,
  type IdentityRedactionInfo,
  type IdentityRedactionInput,
  type IdentityRedactionState,
} from './contract/identity-redaction';

// Time here is the workflow clock: Date.now() and new Date() are deterministic inside the workflow sandbox.
type IdentityActivities = ReturnType<typeof createIdentityActivities>;

const activityOptions = PROVIDER_ACTIVITY_OPTIONS;
/** Creation is the one step a verification cannot do without: it rides out a longer outage. */
const createOptions: ActivityOptions = {
  ...activityOptions,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '60s', maximumAttempts: 10 },
};
/** Runs an activity with a summary the Temporal UI shows next to it (and, optionally, options of its own). */
const call = activitiesWithSummaries<IdentityActivities>(activityOptions);
const summary = (text: string): ActivityOptions & { summary: string } => ({ ...activityOptions, summary: text });

/** Events that reach us before the session id is known are held, up to this many. */
const MAX_EARLY_EVENTS = 20;
const TERMINAL_CODES: readonly string[] = STRIPE_IDENTITY_TERMINAL_CODES;
const UNCOUNTED_CODES: readonly string[] = STRIPE_IDENTITY_UNCOUNTED_CODES;
const KNOWN_REASONS: readonly string[] = IDENTITY_REASONS;

/**
 * Verifies a person's identity document (or ID number) with Stripe Identity. One VerificationSession serves the whole
 * verification and every retry of the user (seed 004's best practice); the client secret never enters this
 * workflow. Signed webhooks drive it through the `providerEvent` signal, deduplicated by event id; an event that may
 * be stale makes it re-read the session and trust Stripe. `last_error.code` follows seed 003: terminal codes fail at
 * once, user-correctable ones count an attempt and wait again, up to `maxAttempts`. The deadline cancels the session
 * (when Stripe allows) and expires the verification. Redaction runs in an `identityRedaction` child that outlives
 * this workflow. Verified outputs appear in the result only.
 */
export async function identityVerification(rawInput: IdentityVerificationInput): Promise<IdentityVerificationResult> {
  const input = parseInput(identityContract.schemas().input, rawInput, 'identityVerification');
  const id = workflowInfo().workflowId;
  const startedAt = Date.now();
  const deadline = startedAt + (input.deadlineSeconds ?? identityContract.defaults.deadlineSeconds) * 1000;
  const state: IdentityVerificationState = {
    id,
    kind: 'identity',
    ...(input.client ? { client: input.client } : {}),
    type: input.type,
    status: 'pending',
    attempts: 0,
    maxAttempts: input.maxAttempts ?? identityContract.defaults.maxAttempts,
    expiresAt: new Date(deadline).toISOString(),
    startedAt: new Date(startedAt).toISOString(),
    updatedAt: new Date(startedAt).toISOString(),
    redaction: { status: 'none' },
  };

  let sessionId: string | undefined;
  let verifiedOutputs: IdentityVerifiedOutputs | undefined;
  let mismatches: IdentityVerificationResult['mismatches'];
  /** Bumped whenever the main loop must look again. */
  let tick = 0;
  let cancelRequested = false;
  let redactRequested = false;
  let redactionSettled = false;
  /** `created` (epoch seconds) of the newest event applied: an event not newer than it may be stale. */
  let newest = 0;
  const seenEvents = new Set<string>();
  const countedSubmissions = new Set<string>();
  const early: IdentityProviderEvent[] = [];
  const inbox: IdentityProviderEvent[] = [];
  const refs: string[] = [];

  const touch = (): void => {
    state.updatedAt = new Date().toISOString();
    tick++;
  };
  const finish = (status: VerificationStatus, reason: IdentityReason): void => {
    if (isTerminal(state.status)) return;
    state.status = status;
    state.reason = reason;
    touch();
  };
  const describe = (): string => {
    const until = `deadline ${state.expiresAt.slice(0, 16).replace('T', ' ')} UTC`;
    const what = input.type === 'document' ? 'identity document' : 'ID number';
    switch (state.status) {
      case 'pending':
        return 'creating the Stripe Identity session';
      case 'action_pending':
        return `waiting for the user to submit their ${what} (attempt ${state.attempts + 1} of ${state.maxAttempts}${state.lastError ? `, last error ${state.lastError.code}` : ''}), ${until}`;
      case 'processing':
        return `Stripe is processing the submitted ${what}, ${until}`;
      default:
        return `${state.status}${state.reason ? ` (${state.reason})` : ''}`;
    }
  };
  let published = '';
  /** Upserts the search attributes when they changed (each upsert is a billed action). */
  const publish = (): void => {
    const key = `${state.status}|${refs.join(',')}`;
    if (key === published) return;
    published = key;
    upsertSearchAttributes([
      { key: SA_KIND, value: 'identity' },
      { key: SA_STATUS, value: state.status },
      { key: SA_PROVIDER, value: 'stripe' },
      ...(refs.length ? [{ key: SA_PROVIDER_REF, value: [...refs] }] : []),
      ...(input.client ? [{ key: SA_CLIENT, value: input.client }] : []),
    ]);
  };

  setHandler(identityContract.messages.getState, () => state);

  setHandler(identityContract.messages.providerEvent, (raw: IdentityProviderEvent) => {
    // Signals cannot be rejected: a malformed one is logged and dropped.
    const event = shared.identityProviderEvent().safeParse(raw);
    if (!event.success) {
      log.warn('malformed provider event dropped', { issues: formatIssues(event.error) });
      return;
    }
    if (seenEvents.has(event.data.eventId)) return;
    seenEvents.add(event.data.eventId);
    if (isTerminal(state.status)) return;
    if (!sessionId) {
      // The event overtook the activity result that names our session: keep it until the session is known.
      if (early.length < MAX_EARLY_EVENTS) early.push(event.data);
      return;
    }
    if (event.data.sessionId !== sessionId) {
      log.info('event of another session ignored', { type: event.data.type });
      return;
    }
    inbox.push(event.data);
    touch();
  });

  const rejectIfNotLive = (): void => rejectIfNotLiveStatus(state.status);

  setCancelHandler(identityContract.messages.cancel, state, () => {
    cancelRequested = true;
    touch();
  });

  setHandler(
    identityContract.messages.redact,
    async (): Promise<IdentityRedactionInfo> => {
      redactRequested = true;
      touch();
      await condition(() => redactionSettled);
      return state.redaction;
    },
    {
      validator: (req) => {
        const r = identityContract.schemas().redactInput.safeParse(req ?? {});
        if (!r.success) throw new Error(formatIssues(r.error));
        rejectIfNotLive();
      },
    },
  );

  /** Counts one failed submission, once per verification report (or per event when Stripe names no report). */
  const countAttempt = (code: string | null | undefined, submission: string | null | undefined): void => {
    if (!code || !submission || UNCOUNTED_CODES.includes(code) || countedSubmissions.has(submission)) return;
    countedSubmissions.add(submission);
    state.attempts++;
    touch();
  };

  /** Applies the session as Stripe (an event, or a fresh read) reports it. */
  const applySnapshot = (s: StripeSessionSnapshot): void => {
    state.sessionStatus = s.status;
    switch (s.status) {
      case 'verified': {
        verifiedOutputs = s.verifiedOutputs;
        const differing = input.expected && verifiedOutputs ? compareExpected(input.expected, verifiedOutputs) : [];
        if (differing.length) {
          mismatches = differing;
          verifiedOutputs = undefined;
          finish('failed', 'expected_mismatch');
        } else {
          finish('completed', 'verified');
        }
        return;
      }
      case 'processing':
        state.status = 'processing';
        touch();
        return;
      case 'requires_input': {
        const code = s.lastErrorCode;
        if (!code) {
          state.status = 'action_pending';
          touch();
          return;
        }
        state.lastError = { code, ...(s.lastErrorMessage ? { message: s.lastErrorMessage } : {}) };
        countAttempt(code, s.reportId);
        if (TERMINAL_CODES.includes(code)) {
          finish('failed', code as IdentityReason);
        } else if (state.attempts >= state.maxAttempts && !UNCOUNTED_CODES.includes(code)) {
          finish('failed', KNOWN_REASONS.includes(code) ? (code as IdentityReason) : 'max_attempts');
        } else {
          state.status = 'action_pending';
          touch();
        }
        return;
      }
      case 'canceled':
        // Cancelled at Stripe by someone else (the Dashboard, another integration).
        finish('cancelled', 'cancelled');
        return;
      default:
        log.warn('unknown session status ignored', { status: s.status });
    }
  };

  const redactionPlanned = (): boolean => redactRequested || input.redactAfterSeconds !== undefined;
  let released = false;
  /**
   * Cancels the session of a verification that ends without success, so no one can submit to it any more. Only
   * requires_input can be cancelled (Stripe refuses while processing or once verified). When a redaction follows it
   * is left alone: Stripe redacts a session waiting on the user (cancelling it) but not a cancelled one.
   */
  const release = async (): Promise<void> => {
    if (released || !sessionId || state.sessionStatus === 'canceled' || redactionPlanned()) return;
    released = true;
    try {
      if (await call('stripeCancelSession', summary('cancel the Stripe session'), sessionId)) {
        state.sessionStatus = 'canceled';
        touch();
      }
    } catch (err) {
      log.warn('stripe session could not be cancelled', { type: failureType(err) });
    }
  };

  const readSession = (why: string): Promise<StripeSessionSnapshot> =>
    call('stripeRetrieveSession', summary(why), sessionId!, { expandOutputs: true });

  const handleEvent = async (event: IdentityProviderEvent): Promise<void> => {
    // `created` tells nothing the creation activity did not; `redacted` belongs to identityRedaction.
    if (event.type === 'created' || event.type === 'redacted') return;
    // A failed submission is an attempt even when its event arrives late: its report id counts it once.
    if (event.type === 'requires_input') countAttempt(event.lastErrorCode, event.reportId ?? `event:${event.eventId}`);
    const stale = event.created <= newest;
    newest = Math.max(newest, event.created);
    if (event.type === 'verified') {
      applySnapshot(await readSession('retrieve the verified outputs'));
    } else if (stale) {
      applySnapshot(await readSession(`re-read the session (${event.type} event may be stale)`));
    } else {
      applySnapshot({
        id: event.sessionId,
        status: event.sessionStatus,
        lastErrorCode: event.lastErrorCode ?? null,
        lastErrorMessage: event.lastErrorMessage ?? null,
        reportId: event.reportId ?? null,
        redactionStatus: event.redactionStatus ?? null,
      });
      // A verified status seen in an event without outputs: read them.
      if (state.status === 'completed' && !verifiedOutputs) {
        applySnapshot(await readSession('retrieve the verified outputs'));
      }
    }
  };

  // 1. The one session of this verification.
  setCurrentDetails(describe());
  publish();
  try {
    const created = await call(
      'stripeCreateSession',
      { ...createOptions, summary: `create Stripe Identity session (${input.type})` },
      {
        type: input.type,
        options: input.options,
        returnUrl: input.returnUrl,
        reference: input.reference,
      },
    );
    sessionId = created.id;
    state.sessionId = created.id;
    refs.push(providerRef('stripe', created.id));
    applySnapshot(created);
    for (const event of early.splice(0)) if (event.sessionId === sessionId) inbox.push(event);
  } catch (err) {
    if (isCancellation(err)) {
      cancelRequested = true;
    } else {
      log.warn('stripe session could not be created', { type: failureType(err) });
      finish('failed', 'provider_error');
    }
  }

  // 2. Events drive it until it ends. A cancellation of the workflow itself (e.g. by its parent) ends it like the
  // cancel update does, and what follows runs regardless.
  try {
    await eventLoop();
  } catch (err) {
    if (!isCancellation(err)) throw err;
    cancelRequested = true;
  }
  await CancellationScope.nonCancellable(async () => {
    if (!isTerminal(state.status)) {
      await release();
      finish('cancelled', 'cancelled');
    }
    await wrapUp();
    await condition(allHandlersFinished);
  });
  return {
    ...state,
    ...(verifiedOutputs ? { verifiedOutputs } : {}),
    ...(mismatches ? { mismatches } : {}),
  };

  async function eventLoop(): Promise<void> {
    while (!isTerminal(state.status)) {
      if (redactRequested) {
        // Redacting a requires_input session cancels it at Stripe: the redaction workflow does both.
        finish('cancelled', 'redacted');
        break;
      }
      if (cancelRequested) {
        await release();
        finish('cancelled', 'cancelled');
        break;
      }
      if (Date.now() >= deadline) {
        await release();
        finish('expired', 'expired');
        break;
      }
      const event = inbox.shift();
      if (event) {
        await handleEvent(event);
        continue;
      }
      publish();
      setCurrentDetails(describe());
      const seen = tick;
      await condition(() => tick !== seen, deadline - Date.now(), { summary: 'verification deadline' });
    }
  }

  // 3. Leave nothing usable behind at Stripe.
  async function wrapUp(): Promise<void> {
    if (state.status !== 'completed') await release();
    if (sessionId && redactionPlanned()) {
      const delaySeconds = redactRequested ? 0 : input.redactAfterSeconds!;
      const workflowId = identityRedactionContract.id(sessionId);
      // Recorded before the child is started, in the task that ends the verification: a state read in between never
      // shows a final status without the redaction that follows it.
      state.redaction = {
        status: delaySeconds ? 'scheduled' : 'requested',
        workflowId,
        redactAt: new Date(Date.now() + delaySeconds * 1000).toISOString(),
      };
      touch();
      try {
        await startChild(identityRedaction, {
          workflowId,
          args: [{ verificationId: id, sessionId, delaySeconds }],
          // The redaction outlives this workflow: the caller gets its result now, the session is redacted later.
          parentClosePolicy: ParentClosePolicy.ABANDON,
          staticSummary: `Redaction of the Stripe session of ${id}${delaySeconds ? ` after ${delaySeconds} s` : ''}`,
        });
      } catch (err) {
        // Already running (the REST API asked first): that workflow redacts this session.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
    }
    redactionSettled = true;
    publish();
    setCurrentDetails(describe());
  }
}

/** How long `identityRedaction` waits for Stripe's `redacted` event before it reads the session itself. */
const REDACTION_CHECK_MS = 24 * 3600 * 1000;
/** Stripe takes up to 4 days to redact; after 5 without confirmation the redaction is reported failed. */
const REDACTION_GIVE_UP_MS = 5 * 24 * 3600 * 1000;
/** A session still processing cannot be redacted: how often to try again, and for how long at most. */
const DEFAULT_REDACTION_POLL_SECONDS = 600;
const REDACTION_MAX_WAIT_MS = 7 * 24 * 3600 * 1000;

/**
 * Redacts the Stripe session of an identity verification, `delaySeconds` after it started (a durable timer, or at
 * once on the `redact` update), then waits for Stripe's `identity.verification_session.redacted` event (re-reading
 * the session daily, for 5 days at most). Started by `identityVerification` with ParentClosePolicy ABANDON so it
 * outlives it, or by the REST API for a verification that is already over. A session still processing is retried
 * until it is not. Its ID derives from the session: `redaction-stripe-<session id>`.
 */
export async function identityRedaction(rawInput: IdentityRedactionInput): Promise<IdentityRedactionState> {
  const input = parseInput(identityRedactionContract.schemas().input, rawInput, 'identityRedaction');
  const startedAt = Date.now();
  const state: IdentityRedactionState = {
    status: 'scheduled',
    workflowId: workflowInfo().workflowId,
    verificationId: input.verificationId,
    sessionId: input.sessionId,
    redactAt: new Date(startedAt + input.delaySeconds * 1000).toISOString(),
    updatedAt: new Date(startedAt).toISOString(),
  };
  let redactNow = input.delaySeconds === 0;
  let redactedSeen = false;
  const pollMs = (input.pollSeconds ?? DEFAULT_REDACTION_POLL_SECONDS) * 1000;
  const set = (status: IdentityRedactionState['status'], error?: string): void => {
    state.status = status;
    if (error) state.error = error;
    if (status === 'redacted') state.redactedAt = new Date().toISOString();
    state.updatedAt = new Date().toISOString();
    setCurrentDetails(
      status === 'scheduled'
        ? `redaction of ${input.sessionId} due ${state.redactAt!.slice(0, 16).replace('T', ' ')} UTC`
        : `redaction of ${input.sessionId}: ${status}${error ? ` (${error})` : ''}`,
    );
  };
  const info = (): IdentityRedactionInfo => ({
    status: state.status,
    workflowId: state.workflowId,
    redactAt: state.redactAt,
    ...(state.error ? { error: state.error } : {}),
  });

  setHandler(identityRedactionContract.messages.getState, () => state);
  setHandler(identityRedactionContract.messages.providerEvent, (raw: IdentityProviderEvent) => {
    const event = shared.identityProviderEvent().safeParse(raw);
    if (!event.success || event.data.sessionId !== input.sessionId) return;
    if (event.data.type === 'redacted' || event.data.redactionStatus === 'redacted') redactedSeen = true;
  });
  setHandler(
    identityRedactionContract.messages.redact,
    async (): Promise<IdentityRedactionInfo> => {
      redactNow = true;
      await condition(() => state.status !== 'scheduled');
      return info();
    },
    {
      validator: (req) => {
        const r = identityRedactionContract.schemas().redactInput.safeParse(req ?? {});
        if (!r.success) throw new Error(formatIssues(r.error));
      },
    },
  );

  set('scheduled');
  if (!redactNow) {
    await condition(() => redactNow, input.delaySeconds * 1000, { summary: `redact after ${input.delaySeconds} s` });
  }
  state.redactAt = new Date().toISOString();

  // Ask Stripe to redact; a session still processing refuses until its checks are over.
  const waitUntil = Date.now() + REDACTION_MAX_WAIT_MS;
  while (state.status === 'scheduled' || state.status === 'waiting') {
    try {
      const s = await call('stripeRedactSession', summary('redact the Stripe session'), input.sessionId);
      set(s.redactionStatus === 'redacted' ? 'redacted' : 'processing');
    } catch (err) {
      if (failureType(err) !== FailureType.ProviderRejected) {
        set('failed', `Stripe refused the redaction (${failureType(err) ?? 'error'})`);
        break;
      }
      const s = await call(
        'stripeRetrieveSession',
        summary('read the session Stripe would not redact'),
        input.sessionId,
      );
      if (s.redactionStatus === 'redacted') set('redacted');
      else if (s.redactionStatus === 'processing') set('processing');
      else if (s.status === 'processing' && Date.now() < waitUntil) {
        set('waiting');
        await condition(() => redactedSeen, pollMs, { summary: 'wait for the session to finish processing' });
      } else set('failed', `Stripe cannot redact a ${s.status} session`);
    }
  }

  // Stripe redacts within 4 days and then sends `redacted`; read the session daily in case the event is lost.
  const giveUpAt = Date.now() + REDACTION_GIVE_UP_MS;
  while (state.status === 'processing') {
    if (redactedSeen) {
      set('redacted');
      break;
    }
    const seen = await condition(() => redactedSeen, Math.min(REDACTION_CHECK_MS, giveUpAt - Date.now()), {
      summary: 'wait for the redacted event',
    });
    if (seen) continue;
    const s = await call('stripeRetrieveSession', summary('check the redaction'), input.sessionId);
    if (s.redactionStatus === 'redacted') set('redacted');
    else if (Date.now() >= giveUpAt) set('failed', 'Stripe did not confirm the redaction within 5 days');
  }
  await condition(allHandlersFinished);
  return state;
}

/** Which `expected` fields differ from the verified outputs (names compared without case, accents or spacing). */
export function compareExpected(
  expected: NonNullable<IdentityVerificationInput['expected']>,
  outputs: IdentityVerifiedOutputs,
): NonNullable<IdentityVerificationResult['mismatches']> {
  const norm = (v: string | null | undefined) =>
    (v ?? '')
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[\s'’.-]+/g, ' ')
      .trim();
  const differing: NonNullable<IdentityVerificationResult['mismatches']> = [];
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
