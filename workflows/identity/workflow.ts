import {
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  log,
  ParentClosePolicy,
  patched,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  activitiesWithSummaries,
  createInbox,
  failureType,
  parseInput,
  PROVIDER_ACTIVITY_OPTIONS,
  publishChanged,
  setCancelHandler,
  type ProviderInbox,
  tookReleasePatch,
} from '../common';
import { verificationEvents } from '../events';
import type { createIdentityActivities } from '../../activities/identity';
import type { StripeSessionSnapshot } from '../../providers/stripe/identity';
import {
  type IdentityProviderEvent,
  isTerminal,
  providerRef,
  SA_CLIENT,
  SA_KIND,
  SA_PROVIDER,
  SA_PROVIDER_REF,
  SA_STATUS,
  shared,
} from '../contract/common';
import {
  identityContract,
  type IdentityVerificationInput,
  type IdentityVerificationResult,
} from '../contract/identity';
import { type IdentityRedactionInfo } from '../contract/identity-redaction';
import { VerificationMeter } from '../metrics';
import { identityRedaction, validateRedact } from './redaction';
import {
  applySnapshot,
  describeIdentity,
  finish,
  identityResult,
  initialIdentity,
  KNOWN_SESSION_STATUSES,
  nextIdentityStep,
  planRedaction,
  sessionCancelled,
  sessionCreated,
  shouldRelease,
  takeEvent,
  type IdentityModel,
} from './state';

const {
  cancel: cancelIdentity,
  getState: getIdentityState,
  providerEvent: identityProviderEvent,
  redact,
} = identityContract.messages;

// Time here is the workflow clock: Date.now() and new Date() are deterministic inside the workflow sandbox.
type IdentityActivities = ReturnType<typeof createIdentityActivities>;
type Input = ReturnType<ReturnType<typeof identityContract.schemas>['input']['parse']>;

const activityOptions = PROVIDER_ACTIVITY_OPTIONS;
/** Creation is the one step a verification cannot do without: it rides out a longer outage. */
const createOptions: ActivityOptions = {
  ...activityOptions,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '60s', maximumAttempts: 10 },
};
/** Runs an activity with a summary the Temporal UI shows next to it (and, optionally, options of its own). */
const call = activitiesWithSummaries<IdentityActivities>(activityOptions);
const summary = (text: string): ActivityOptions & { summary: string } => ({ ...activityOptions, summary: text });
const now = (): string => new Date().toISOString();

/**
 * Verifies a person's identity document (or ID number) with Stripe Identity. One VerificationSession serves the whole
 * verification and every retry of the user (Stripe's advice for retries); the client secret never enters this
 * workflow. Signed webhooks drive it through the `providerEvent` signal, deduplicated by event id; an event that may
 * be stale makes it re-read the session and trust Stripe. `last_error.code` decides: terminal codes fail at once,
 * user-correctable ones count an attempt and wait again, up to `maxAttempts` (see `./state.ts`). The deadline cancels
 * the session (when Stripe allows) and expires the verification. Redaction runs in an `identityRedaction` child that
 * outlives this workflow. Verified outputs appear in the result only.
 */
export async function identityVerification(rawInput: IdentityVerificationInput): Promise<IdentityVerificationResult> {
  const input = parseInput(identityContract.schemas().input, rawInput, 'identityVerification');
  const release = tookReleasePatch();
  const run = new IdentityRun(input, release);
  // Outbound events of each status change, when the client has an events endpoint (never blocks this run); verified
  // outputs only to a client that opted into them.
  const events = verificationEvents(
    'verification',
    'identity',
    input,
    () => run.model.state,
    () => ({ verifiedOutputs: run.model.verifiedOutputs }),
    release,
  );
  run.listen();
  // 1. The one session of this verification.
  await run.createSession();
  // 2. Events drive it until it ends; 3. nothing usable is left behind at Stripe.
  await run.drive();
  run.meter.ended(run.model.state.status, run.model.state.reason, run.target);
  await CancellationScope.nonCancellable(() => events.end());
  return identityResult(run.model);
}

/** One identity verification: the state value, the handlers that feed it and the steps that call Stripe. */
class IdentityRun {
  model: IdentityModel;
  readonly meter: VerificationMeter;
  /** Its labels in the verification metrics: Stripe, and the kind of check as the channel. */
  readonly target: { provider: string; channel: string };
  private readonly deadline: number;
  /** Bumped whenever the main loop must look again. */
  private tick = 0;
  private cancelRequested = false;
  private redactRequested = false;
  private redactionSettled = false;
  private released = false;
  private published = '';
  /** Events of our session, in arrival order, taken by the main loop. */
  private readonly queue: IdentityProviderEvent[] = [];
  private readonly inbox: ProviderInbox;
  /**
   * One deadline timer for the whole run (the deadline never moves), and search attributes upserted only when they
   * change; runs from before started a timer at every wake-up and upserted at the start (their histories have no
   * marker, so they keep doing so). One patch for both: each patch marker costs an upsert (TemporalChangeVersion).
   */
  private readonly fewerActions: boolean;
  /** The deadline timer went off (`fewerActions`). */
  private deadlinePassed = false;

  constructor(
    private readonly input: Input,
    /** The run took `RELEASE_PATCH`, which stands for `fewer-billed-actions`. */
    release: boolean,
  ) {
    this.fewerActions = release || patched('fewer-billed-actions');
    const startedAt = Date.now();
    this.deadline = startedAt + (input.deadlineSeconds ?? identityContract.defaults.deadlineSeconds) * 1000;
    this.model = initialIdentity({
      id: workflowInfo().workflowId,
      client: input.client,
      type: input.type,
      maxAttempts: input.maxAttempts ?? identityContract.defaults.maxAttempts,
      expected: input.expected,
      startedAt,
      deadline: this.deadline,
    });
    this.meter = new VerificationMeter('identity', input.client);
    this.target = { provider: 'stripe', channel: input.type };
    this.inbox = createInbox({
      schema: shared.identityProviderEvent(),
      isOver: () => isTerminal(this.model.state.status),
      // An event can overtake the activity result that names our session: held until the session is known.
      route: (e) =>
        !this.model.state.sessionId
          ? 'hold'
          : e.sessionId === this.model.state.sessionId
            ? 'deliver'
            : { drop: 'event of another session ignored' },
      deliver: (e) => {
        this.queue.push(e);
        this.tick++;
      },
    });
  }

  listen(): void {
    setHandler(getIdentityState, () => this.model.state);
    setHandler(identityProviderEvent, (raw) => this.inbox.receive(raw));
    setCancelHandler(
      cancelIdentity,
      () => this.model.state,
      () => {
        this.cancelRequested = true;
        this.tick++;
      },
    );
    setHandler(
      redact,
      async (): Promise<IdentityRedactionInfo> => {
        this.redactRequested = true;
        this.tick++;
        await condition(() => this.redactionSettled);
        return this.model.state.redaction;
      },
      { validator: (req) => validateRedact(req, this.model.state.status) },
    );
  }

  async createSession(): Promise<void> {
    setCurrentDetails(describeIdentity(this.model));
    this.publish();
    try {
      const created = await call(
        'stripeCreateSession',
        { ...createOptions, summary: `create Stripe Identity session (${this.input.type})` },
        {
          type: this.input.type,
          options: this.input.options,
          returnUrl: this.input.returnUrl,
          reference: this.input.reference,
        },
      );
      this.model = sessionCreated(this.model, created, now());
      this.meter.sent(this.target);
      this.inbox.release();
    } catch (err) {
      if (isCancellation(err)) {
        this.cancelRequested = true;
      } else {
        log.warn('stripe session could not be created', { type: failureType(err) });
        this.model = finish(this.model, 'failed', 'provider_error', now());
      }
    }
  }

  /**
   * The event loop, then the wrap-up. A cancellation of the workflow itself (e.g. by its parent) ends it like the
   * cancel update does, and what follows runs regardless.
   */
  async drive(): Promise<void> {
    try {
      await this.eventLoop();
    } catch (err) {
      if (!isCancellation(err)) throw err;
      this.cancelRequested = true;
    }
    await CancellationScope.nonCancellable(async () => {
      if (!isTerminal(this.model.state.status)) {
        await this.release();
        this.model = finish(this.model, 'cancelled', 'cancelled', now());
      }
      await this.wrapUp();
      await condition(allHandlersFinished);
    });
  }

  private async eventLoop(): Promise<void> {
    if (this.fewerActions) this.armDeadline();
    while (!isTerminal(this.model.state.status)) {
      const step = nextIdentityStep({
        cancelRequested: this.cancelRequested,
        redactRequested: this.redactRequested,
        queued: this.queue.length,
        // A timer that went off means the deadline has passed, whatever the clock's rounding.
        now: this.deadlinePassed ? Math.max(Date.now(), this.deadline) : Date.now(),
        deadline: this.deadline,
      });
      if (step === 'redacted') {
        this.model = finish(this.model, 'cancelled', 'redacted', now());
      } else if (step === 'cancelled' || step === 'expired') {
        await this.release();
        this.model = finish(this.model, step, step, now());
      } else if (step === 'event') {
        await this.handleEvent(this.queue.shift()!);
      } else {
        this.publish();
        setCurrentDetails(describeIdentity(this.model));
        const seen = this.tick;
        if (this.fewerActions) await condition(() => this.tick !== seen);
        else
          await condition(() => this.tick !== seen, this.deadline - Date.now(), { summary: 'verification deadline' });
      }
    }
  }

  /** The one timer of the deadline: when it goes off, the loop wakes and finds the verification expired. */
  private armDeadline(): void {
    void CancellationScope.cancellable(() =>
      sleep(Math.max(1, this.deadline - Date.now()), { summary: 'verification deadline' }),
    ).then(
      () => {
        this.deadlinePassed = true;
        this.tick++;
      },
      () => undefined, // the run was cancelled
    );
  }

  private async handleEvent(event: IdentityProviderEvent): Promise<void> {
    const { model, step } = takeEvent(this.model, event, now());
    this.model = model;
    if ('read' in step) this.apply(await this.readSession(step.read));
    else if ('apply' in step) this.apply(step.apply);
  }

  private apply(s: StripeSessionSnapshot): void {
    if (!KNOWN_SESSION_STATUSES.includes(s.status)) log.warn('unknown session status ignored', { status: s.status });
    this.model = applySnapshot(this.model, s, now());
  }

  private readSession(why: string): Promise<StripeSessionSnapshot> {
    return call('stripeRetrieveSession', summary(why), this.model.state.sessionId!, { expandOutputs: true });
  }

  /** Cancels the session of a verification that ends without success (only requires_input can be cancelled). */
  private async release(): Promise<void> {
    const redactionPlanned = this.redactRequested || this.input.redactAfterSeconds !== undefined;
    if (!shouldRelease(this.model, this.released, redactionPlanned)) return;
    this.released = true;
    try {
      if (await call('stripeCancelSession', summary('cancel the Stripe session'), this.model.state.sessionId!)) {
        this.model = sessionCancelled(this.model, now());
      }
    } catch (err) {
      log.warn('stripe session could not be cancelled', { type: failureType(err) });
    }
  }

  /** Leaves nothing usable behind at Stripe: the session cancelled, or its redaction started. */
  private async wrapUp(): Promise<void> {
    if (this.model.state.status !== 'completed') await this.release();
    const { model, plan } = planRedaction(this.model, this.redactRequested, this.input.redactAfterSeconds, Date.now());
    this.model = model;
    if (plan) {
      const id = this.model.state.id;
      try {
        await startChild(identityRedaction, {
          workflowId: plan.workflowId,
          args: [{ verificationId: id, sessionId: plan.sessionId, delaySeconds: plan.delaySeconds }],
          // The redaction outlives this workflow: the caller gets its result now, the session is redacted later.
          parentClosePolicy: ParentClosePolicy.ABANDON,
          staticSummary: `Redaction of the Stripe session of ${id}${plan.delaySeconds ? ` after ${plan.delaySeconds} s` : ''}`,
        });
      } catch (err) {
        // Already running (the REST API asked first): that workflow redacts this session.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
    }
    this.redactionSettled = true;
    this.publish();
    setCurrentDetails(describeIdentity(this.model));
  }

  /**
   * Upserts the search attributes when they changed (each upsert is a billed action): the status, and the session's
   * ref once it exists (Stripe events without our metadata, and the client-secret route, find the session by it).
   */
  private publish(): void {
    const { status, sessionId } = this.model.state;
    const refs = sessionId ? [providerRef('stripe', sessionId)] : [];
    if (this.fewerActions) {
      publishChanged([
        { key: SA_KIND, value: 'identity' },
        { key: SA_STATUS, value: status },
        { key: SA_PROVIDER, value: 'stripe' },
        ...(refs.length ? [{ key: SA_PROVIDER_REF, value: refs }] : []),
        ...(this.input.client ? [{ key: SA_CLIENT, value: this.input.client }] : []),
      ]);
      return;
    }
    const key = `${status}|${refs.join(',')}`;
    if (key === this.published) return;
    this.published = key;
    upsertSearchAttributes([
      { key: SA_KIND, value: 'identity' },
      { key: SA_STATUS, value: status },
      { key: SA_PROVIDER, value: 'stripe' },
      ...(refs.length ? [{ key: SA_PROVIDER_REF, value: refs }] : []),
      ...(this.input.client ? [{ key: SA_CLIENT, value: this.input.client }] : []),
    ]);
  }
}
