import {
  CancellationScope,
  allHandlersFinished,
  condition,
  executeChild,
  isCancellation,
  log,
  patched,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  activitiesWithSummaries,
  createInbox,
  failureType,
  parseInput,
  PROVIDER_ACTIVITY_OPTIONS,
  publishChanged,
  PUSH_RELEASE_PATCH,
  setCancelHandler,
  tookReleasePatch,
  type ProviderInbox,
} from '../common';
import { verificationEvents } from '../events';
import type { createPushActivities } from '../../activities/push';
import {
  FailureType,
  isTerminal,
  providerRef,
  SA_CHANNEL,
  SA_CLIENT,
  SA_KIND,
  SA_PROVIDER,
  SA_PROVIDER_REF,
  SA_STATUS,
  shared,
} from '../contract/common';
import {
  hiddenDetailsWithId,
  pushContract,
  type PushVerificationInput,
  type PushVerificationResult,
} from '../contract/push';
import { VerificationMeter } from '../metrics';
import { phoneVerification } from '../phone/workflow';
import {
  afterWait,
  answered,
  answerOf,
  awaitingAnswer,
  challengeCreated,
  denied,
  describePush,
  expiredUnlessAnswered,
  fallbackEnded,
  fallbackStarted,
  finish,
  giveUp,
  initialPush,
  nextPushStep,
  polled,
  polledAt,
  resending,
  resent,
  startClock,
  type PushClock,
  type PushModel,
} from './state';

const { cancel: cancelPush, getState: getPushState, providerEvent: pushProviderEvent } = pushContract.messages;

// Time here is the workflow clock: Date.now() and new Date() are deterministic inside the workflow sandbox.
type Input = ReturnType<ReturnType<typeof pushContract.schemas>['input']['parse']>;

/** Runs an activity with a summary the Temporal UI shows next to it. */
const call = activitiesWithSummaries<ReturnType<typeof createPushActivities>>(PROVIDER_ACTIVITY_OPTIONS);
const now = (): string => new Date().toISOString();
/** The push channel's labels in the verification metrics. */
const PUSH = { provider: 'twilio', channel: 'push' };

/**
 * Verifies a user with a Twilio Verify Push challenge on their enrolled device. One challenge per verification: when
 * unanswered for `resendAfterSeconds`, its notification is resent (Notifications resource), never a second challenge.
 * `challenge.approved` completes it, `challenge.denied` fails it (`user_denied`). The answer arrives as a webhook
 * (`providerEvent` signal) or, since webhooks are optional at Twilio, by polling the challenge on a durable timer.
 * When the challenge expires, or the identity has no verified factor, the `fallback` phone verification runs as a
 * child workflow and its result becomes ours.
 */
export async function pushVerification(rawInput: PushVerificationInput): Promise<PushVerificationResult> {
  const input = parseInput(pushContract.schemas().input, rawInput, 'pushVerification');
  // The newest release first; it stands for the older one (docs/CHANGING-WORKFLOWS.md, "One marker per run").
  const routedById = patched(PUSH_RELEASE_PATCH);
  const release = routedById || tookReleasePatch();
  const run = new PushRun(input, release, routedById);
  // Outbound events of each status change, when the client has an events endpoint (never blocks this run).
  const events = verificationEvents('verification', 'push', input, () => run.model.state, undefined, release);
  run.listen();
  // Runs routed by ID publish what changed when they first wait (a REST start already said it all).
  if (!routedById) run.publish();
  // 1. The factor; 2. the one challenge of this verification; 3. its answer.
  const factorSid = await run.findFactor();
  if (factorSid && !run.cancelRequested) await run.createChallenge(factorSid);
  await run.waitForAnswer();
  // 4. Push could not finish by itself: the fallback phone verification, else the matching terminal status.
  await run.end();
  setCurrentDetails(describePush(run.model));
  run.publish(true);
  await condition(allHandlersFinished);
  run.meter.ended(run.model.state.status, run.model.state.reason, PUSH);
  await events.end();
  return run.model.state;
}

/** One push verification: the state value, the handlers that feed it and the steps that call Twilio. */
class PushRun {
  model: PushModel;
  readonly meter: VerificationMeter;
  cancelRequested = false;
  private readonly expiresAt: number;
  /** Bumped whenever the main loop must look again. */
  private tick = 0;
  private fallbackScope: CancellationScope | undefined;
  /** Search attributes upserted only when they change (runs from before keep upserting at every step). */
  private readonly attributesWhenChanged: boolean;
  /**
   * The challenge's webhooks are found by its ref (runs from before `PUSH_RELEASE_PATCH`, or hidden details with no
   * room for the run's ID): the ref goes out as soon as the challenge exists, else with the final status.
   */
  private refAtOnce = true;
  private inbox?: ProviderInbox;

  constructor(
    private readonly input: Input,
    /** The run took `RELEASE_PATCH` (it stands for this workflow's older patches). */
    private readonly release: boolean,
    /** The run took `PUSH_RELEASE_PATCH`: its challenge's webhooks are routed by the ID in its hidden details. */
    private readonly routedById: boolean,
  ) {
    this.attributesWhenChanged = release || patched('fewer-billed-actions');
    const startedAt = Date.now();
    this.expiresAt = startedAt + (input.expirySeconds ?? pushContract.defaults.expirySeconds) * 1000;
    this.model = initialPush({
      id: workflowInfo().workflowId,
      client: input.client,
      startedAt,
      expiresAt: this.expiresAt,
    });
    this.meter = new VerificationMeter('push', input.client);
  }

  listen(): void {
    const inbox = (this.inbox = createInbox({
      schema: shared.pushProviderEvent(),
      // Answered, handed to the fallback or over: later events no longer apply.
      isOver: () => isTerminal(this.model.state.status) || !!this.model.answer || !!this.model.state.fallbackId,
      route: (e) => {
        const known = this.model.state.challengeSid;
        // Routed by ID, a webhook can overtake the activity result that names the challenge: held until then.
        if (!known && this.routedById) return 'hold';
        return known && e.challengeSid === known ? 'deliver' : { drop: 'provider event for another challenge ignored' };
      },
      deliver: (e) => {
        const answer = answerOf(e);
        if (!answer) return;
        this.model = answered(this.model, answer, now());
        this.tick++;
      },
    }));
    setHandler(getPushState, () => this.model.state);
    setHandler(pushProviderEvent, (raw) => inbox.receive(raw));
    setCancelHandler(
      cancelPush,
      () => this.model.state,
      () => {
        this.cancelRequested = true;
        this.fallbackScope?.cancel();
        this.tick++;
      },
    );
  }

  /**
   * The caller's factor, else the identity's newest verified push factor — approved ones only: a factor enrolled
   * while the identity already had one waits for approval and receives no challenge (runs from before this asked
   * Twilio for the newest verified factor; the patch keeps their replay identical).
   */
  async findFactor(): Promise<string | null | undefined> {
    let factorSid: string | null | undefined = this.input.factorSid;
    if (this.release || patched('approved-factors-only')) {
      setCurrentDetails(describePush(this.model));
      factorSid = await call('pushApprovedFactor', 'find the approved push factor', {
        identity: this.input.identity,
        factorSid: this.input.factorSid,
      });
      if (!factorSid) this.model = giveUp(this.model, 'no_verified_factor');
    } else if (!factorSid) {
      setCurrentDetails(describePush(this.model));
      factorSid = await call('twilioNewestVerifiedFactor', 'find the newest verified push factor', this.input.identity);
      if (!factorSid) this.model = giveUp(this.model, 'no_verified_factor');
    }
    return factorSid;
  }

  async createChallenge(factorSid: string): Promise<void> {
    const withId = this.routedById
      ? hiddenDetailsWithId(this.input.hiddenDetails, workflowInfo().workflowId)
      : undefined;
    this.refAtOnce = !withId;
    try {
      const challenge = await call('twilioCreateChallenge', 'create push challenge', {
        identity: this.input.identity,
        factorSid,
        message: this.input.message,
        fields: this.input.fields,
        hiddenDetails: withId ?? this.input.hiddenDetails,
        expirationDate: this.model.state.expiresAt,
      });
      this.model = challengeCreated(this.model, challenge, now());
      this.meter.sent(PUSH);
      // Its webhooks find the run by its ref unless they carry its ID: then nothing needs publishing yet.
      if (this.refAtOnce) this.publish();
      this.inbox?.release();
    } catch (err) {
      const type = failureType(err);
      if (type === FailureType.ProviderNotFound) {
        // The factor (or its entity) is gone at Twilio: the same as having no verified factor.
        this.model = giveUp(this.model, 'no_verified_factor');
      } else {
        log.warn('push challenge could not be created', { type });
        this.model = finish(this.model, 'failed', 'provider_error', now());
      }
    }
  }

  /** Waits for the answer: webhook signal or poll, resending the notification while unanswered. */
  async waitForAnswer(): Promise<void> {
    const pollMs = (this.input.pollIntervalSeconds ?? pushContract.defaults.pollIntervalSeconds) * 1000;
    const resendMs = this.input.resendAfterSeconds !== undefined ? this.input.resendAfterSeconds * 1000 : undefined;
    let clock = startClock(this.expiresAt, pollMs, resendMs, Date.now());
    while (awaitingAnswer(this.model)) {
      const challengeSid = this.model.state.challengeSid!;
      const step = nextPushStep(this.model, this.cancelRequested, clock, Date.now());
      if (step.do === 'cancel') this.model = finish(this.model, 'cancelled', 'cancelled', now());
      else if (step.do === 'complete') this.model = finish(this.model, 'completed', 'verified', now());
      else if (step.do === 'deny') {
        this.model = denied(this.model, !!this.input.fallback && !!this.input.fallbackOnDeny, now());
      } else if (step.do === 'final-poll') {
        await this.poll(challengeSid);
        this.model = expiredUnlessAnswered(this.model);
      } else if (step.do === 'poll') {
        await this.poll(challengeSid);
        clock = polledAt(clock, Date.now());
      } else if (step.do === 'resend') {
        clock = await this.resend(challengeSid, step.ttlSeconds, resending(clock));
      } else {
        setCurrentDetails(describePush(this.model));
        if (this.routedById) this.publish();
        const seen = this.tick;
        await condition(() => this.tick !== seen, step.ms, { summary: step.summary });
      }
    }
  }

  /** Fetches the challenge (webhooks are optional at Twilio): its answer, or that it expired there. */
  private async poll(challengeSid: string): Promise<void> {
    try {
      const challenge = await call('twilioFetchChallenge', 'poll push challenge', {
        identity: this.input.identity,
        challengeSid,
      });
      this.model = polled(this.model, challenge.status, now());
    } catch (err) {
      log.warn('push challenge poll failed; trying again later', { type: failureType(err) });
    }
  }

  private async resend(challengeSid: string, ttlSeconds: number, clock: PushClock): Promise<PushClock> {
    try {
      const outcome = await call('twilioResendNotification', 'resend push notification', {
        identity: this.input.identity,
        challengeSid,
        ttlSeconds,
      });
      if (outcome !== 'sent') return clock;
      const next = resent(this.model, clock, Date.now());
      this.meter.sent(PUSH);
      this.model = next.model;
      return next.clock;
    } catch (err) {
      log.warn('push notification resend failed; no more resends', { type: failureType(err) });
      return clock;
    }
  }

  /** Push could not finish by itself: the fallback phone verification, else the matching terminal status. */
  async end(): Promise<void> {
    const { model, fallback } = afterWait(this.model, this.cancelRequested, !!this.input.fallback, now());
    this.model = model;
    if (fallback) await this.fallBack(this.input.fallback!);
  }

  private async fallBack(fallback: NonNullable<Input['fallback']>): Promise<void> {
    const { id, pushReason } = this.model.state;
    const childId = pushContract.helpers.fallbackId(id);
    const client = this.input.client;
    this.model = fallbackStarted(this.model, childId, now());
    this.meter.fellBack(PUSH, pushReason ?? 'unknown');
    this.publish();
    setCurrentDetails(describePush(this.model));
    this.fallbackScope = new CancellationScope();
    try {
      const result = await this.fallbackScope.run(() =>
        executeChild(phoneVerification, {
          workflowId: childId,
          args: [client ? { ...fallback, client } : fallback],
          staticSummary: `Fallback of push verification ${id} (push ${pushReason})`,
          ...(client ? { typedSearchAttributes: [{ key: SA_CLIENT, value: client }] } : {}),
        }),
      );
      this.model = fallbackEnded(this.model, result, now());
    } catch (err) {
      if (this.cancelRequested || isCancellation(err)) this.model = finish(this.model, 'cancelled', 'cancelled', now());
      else {
        log.warn('fallback phone verification failed', { type: failureType(err) });
        this.model = finish(this.model, 'failed', 'fallback_failed', now());
      }
    }
  }

  /**
   * Publishes the search attributes: those that changed (what the start set counts). The challenge's ref goes out with
   * the `final` status when its webhooks carry the run's ID; else it is what they are routed by, so it goes out as soon
   * as the challenge exists. Older runs upsert them all at every step.
   */
  publish(final = false): void {
    const { status, challengeSid } = this.model.state;
    if (this.attributesWhenChanged) {
      const ref = challengeSid && (this.refAtOnce || final) ? providerRef('twilio', challengeSid) : undefined;
      publishChanged([
        { key: SA_KIND, value: 'push' },
        { key: SA_STATUS, value: status },
        { key: SA_CHANNEL, value: 'push' },
        { key: SA_PROVIDER, value: 'twilio' },
        ...(ref ? [{ key: SA_PROVIDER_REF, value: [ref] }] : []),
        ...(this.input.client ? [{ key: SA_CLIENT, value: this.input.client }] : []),
      ]);
      return;
    }
    upsertSearchAttributes([
      { key: SA_KIND, value: 'push' },
      { key: SA_STATUS, value: status },
      { key: SA_CHANNEL, value: 'push' },
      { key: SA_PROVIDER, value: 'twilio' },
      { key: SA_PROVIDER_REF, value: challengeSid ? [providerRef('twilio', challengeSid)] : [] },
      ...(this.input.client ? [{ key: SA_CLIENT, value: this.input.client }] : []),
    ]);
  }
}
