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
  failureType,
  parseInput,
  PROVIDER_ACTIVITY_OPTIONS,
  setCancelHandler,
} from './common';
import type { createPushActivities } from '../activities/push';
import {
  FailureType,
  formatIssues,
  isTerminal,
  providerRef,
  type Reason,
  SA_CHANNEL,
  SA_CLIENT,
  SA_KIND,
  SA_PROVIDER,
  SA_PROVIDER_REF,
  SA_STATUS,
  shared,
  type VerificationStatus,
} from './contract/common';
import {
  pushContract,
  type PushVerificationInput,
  type PushVerificationResult,
  type PushVerificationState,
} from './contract/push';
import { phoneVerification } from './phone/workflow';

// Time here is the workflow clock: Date.now() and new Date() are deterministic inside the workflow sandbox.
type PushActivities = ReturnType<typeof createPushActivities>;

/** Runs an activity with a summary the Temporal UI shows next to it. */
const call = activitiesWithSummaries<PushActivities>(PROVIDER_ACTIVITY_OPTIONS);

/** A Twilio notification lives at most 300 s. */
const MAX_NOTIFICATION_TTL_SECONDS = 300;

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
  const id = workflowInfo().workflowId;
  const startedAt = Date.now();
  const expiresAtMs = startedAt + (input.expirySeconds ?? pushContract.defaults.expirySeconds) * 1000;
  const pollMs = (input.pollIntervalSeconds ?? pushContract.defaults.pollIntervalSeconds) * 1000;
  const resendMs = input.resendAfterSeconds !== undefined ? input.resendAfterSeconds * 1000 : undefined;
  const state: PushVerificationState = {
    id,
    kind: 'push',
    ...(input.client ? { client: input.client } : {}),
    status: 'pending',
    resends: 0,
    expiresAt: new Date(expiresAtMs).toISOString(),
    startedAt: new Date(startedAt).toISOString(),
    updatedAt: new Date(startedAt).toISOString(),
  };

  /** Bumped whenever the main loop must look again. */
  let tick = 0;
  let cancelRequested = false;
  let answer: 'approved' | 'denied' | undefined;
  let fallbackScope: CancellationScope | undefined;
  const seenEvents = new Set<string>();
  const providerRefs: string[] = [];

  const touch = (): void => {
    state.updatedAt = new Date().toISOString();
    tick++;
  };
  const finish = (status: VerificationStatus, reason: Reason): void => {
    if (isTerminal(state.status)) return;
    state.status = status;
    state.reason = reason;
    touch();
  };
  const describe = (): string => {
    if (isTerminal(state.status)) return `${state.status}${state.reason ? ` (${state.reason})` : ''}`;
    if (state.fallbackId)
      return `push ${state.pushReason}: waiting for the fallback phone verification ${state.fallbackId}`;
    if (!state.challengeSid) return 'finding the verified push factor';
    const resends = state.resends ? `, ${state.resends} notification(s) resent` : '';
    return `waiting for the push answer to ${state.challengeSid}${resends}, expires ${state.expiresAt.slice(11, 19)} UTC`;
  };
  const publish = (): void => {
    upsertSearchAttributes([
      { key: SA_KIND, value: 'push' },
      { key: SA_STATUS, value: state.status },
      { key: SA_CHANNEL, value: 'push' },
      { key: SA_PROVIDER, value: 'twilio' },
      { key: SA_PROVIDER_REF, value: [...providerRefs] },
      ...(input.client ? [{ key: SA_CLIENT, value: input.client }] : []),
    ]);
  };

  setHandler(pushContract.messages.getState, () => state);

  setHandler(pushContract.messages.providerEvent, (raw) => {
    // Signals cannot be rejected: a malformed one is logged and dropped.
    const result = shared.pushProviderEvent().safeParse(raw);
    if (!result.success) {
      log.warn('malformed provider event dropped', { issues: formatIssues(result.error) });
      return;
    }
    const event = result.data;
    if (seenEvents.has(event.eventId)) return;
    seenEvents.add(event.eventId);
    if (isTerminal(state.status) || answer || state.fallbackId) return;
    if (!state.challengeSid || event.challengeSid !== state.challengeSid) {
      log.info('provider event for another challenge ignored', { type: event.type });
      return;
    }
    if (event.type === 'challenge.approved') answer = 'approved';
    else if (event.type === 'challenge.denied') answer = 'denied';
    else return;
    touch();
  });

  setCancelHandler(pushContract.messages.cancel, state, () => {
    cancelRequested = true;
    fallbackScope?.cancel();
    touch();
  });

  publish();

  /** Why push could not finish by itself; set when the fallback (or the matching terminal status) applies. */
  let pushReason: Reason | undefined;

  // 1. The factor: the caller's, else the identity's newest verified push factor — approved ones only: a factor
  // enrolled while the identity already had one waits for approval and receives no challenge (runs from before this
  // asked Twilio for the newest verified factor; the patch keeps their replay identical).
  let factorSid: string | null | undefined = input.factorSid;
  if (patched('approved-factors-only')) {
    setCurrentDetails(describe());
    factorSid = await call('pushApprovedFactor', 'find the approved push factor', {
      identity: input.identity,
      factorSid: input.factorSid,
    });
    if (!factorSid) pushReason = 'no_verified_factor';
  } else if (!factorSid) {
    setCurrentDetails(describe());
    factorSid = await call('twilioNewestVerifiedFactor', 'find the newest verified push factor', input.identity);
    if (!factorSid) pushReason = 'no_verified_factor';
  }

  // 2. The one challenge of this verification.
  if (factorSid && !cancelRequested) {
    try {
      const challenge = await call('twilioCreateChallenge', 'create push challenge', {
        identity: input.identity,
        factorSid,
        message: input.message,
        fields: input.fields,
        hiddenDetails: input.hiddenDetails,
        expirationDate: state.expiresAt,
      });
      state.challengeSid = challenge.sid;
      state.factorSid = challenge.factorSid;
      state.status = 'action_pending';
      providerRefs.push(providerRef('twilio', challenge.sid));
      touch();
      publish();
    } catch (err) {
      const type = failureType(err);
      if (type === FailureType.ProviderNotFound) {
        // The factor (or its entity) is gone at Twilio: the same as having no verified factor.
        pushReason = 'no_verified_factor';
      } else {
        log.warn('push challenge could not be created', { type });
        finish('failed', 'provider_error');
      }
    }
  }

  /** Fetches the challenge (webhooks are optional at Twilio): its answer, or that it expired there. */
  const poll = async (challengeSid: string): Promise<void> => {
    try {
      const challenge = await call('twilioFetchChallenge', 'poll push challenge', {
        identity: input.identity,
        challengeSid,
      });
      if (answer || isTerminal(state.status)) return;
      if (challenge.status === 'approved' || challenge.status === 'denied') {
        answer = challenge.status;
        touch();
      } else if (challenge.status === 'expired') {
        pushReason = 'expired';
      }
    } catch (err) {
      log.warn('push challenge poll failed; trying again later', { type: failureType(err) });
    }
  };

  // 3. Wait for the answer: webhook signal or poll, resending the notification while unanswered.
  let nextPollAt = Date.now() + pollMs;
  let nextResendAt = resendMs !== undefined ? Date.now() + resendMs : Infinity;
  while (state.challengeSid && !isTerminal(state.status) && !pushReason) {
    const challengeSid = state.challengeSid;
    if (cancelRequested) {
      finish('cancelled', 'cancelled');
      break;
    }
    if (answer === 'approved') {
      finish('completed', 'verified');
      break;
    }
    if (answer === 'denied') {
      if (input.fallback && input.fallbackOnDeny) pushReason = 'user_denied';
      else finish('failed', 'user_denied');
      break;
    }
    const now = Date.now();
    if (now >= expiresAtMs) {
      // One last look before giving up: an approval whose webhook got lost still counts.
      await poll(challengeSid);
      if (!answer) pushReason = 'expired';
      continue;
    }
    if (now >= nextPollAt) {
      await poll(challengeSid);
      nextPollAt = Date.now() + pollMs;
      continue;
    }
    if (now >= nextResendAt) {
      nextResendAt = Infinity;
      try {
        const ttlSeconds = Math.min(MAX_NOTIFICATION_TTL_SECONDS, Math.ceil((expiresAtMs - now) / 1000));
        const outcome = await call('twilioResendNotification', 'resend push notification', {
          identity: input.identity,
          challengeSid,
          ttlSeconds,
        });
        if (outcome === 'sent') {
          state.resends++;
          touch();
          if (state.resends < pushContract.defaults.maxResends && resendMs !== undefined)
            nextResendAt = Date.now() + resendMs;
        }
      } catch (err) {
        log.warn('push notification resend failed; no more resends', { type: failureType(err) });
      }
      continue;
    }
    setCurrentDetails(describe());
    const seen = tick;
    const wakeAt = Math.min(expiresAtMs, nextPollAt, nextResendAt);
    await condition(() => tick !== seen, Math.max(1, wakeAt - now), {
      summary: wakeAt === expiresAtMs ? 'push challenge expiry' : wakeAt === nextPollAt ? 'next poll' : 'resend',
    });
  }

  // 4. Push could not finish by itself: the fallback phone verification, else the matching terminal status.
  if (!isTerminal(state.status) && cancelRequested) finish('cancelled', 'cancelled');
  if (!isTerminal(state.status) && pushReason) {
    state.pushReason = pushReason;
    if (!input.fallback) {
      finish(pushReason === 'expired' ? 'expired' : 'failed', pushReason);
    } else {
      const childId = pushContract.helpers.fallbackId(id);
      state.fallbackId = childId;
      state.status = 'pending';
      touch();
      publish();
      setCurrentDetails(describe());
      fallbackScope = new CancellationScope();
      const fallback = input.fallback;
      try {
        const result = await fallbackScope.run(() =>
          executeChild(phoneVerification, {
            workflowId: childId,
            args: [input.client ? { ...fallback, client: input.client } : fallback],
            staticSummary: `Fallback of push verification ${id} (push ${pushReason})`,
            ...(input.client ? { typedSearchAttributes: [{ key: SA_CLIENT, value: input.client }] } : {}),
          }),
        );
        finish(result.status, result.reason ?? (result.status === 'completed' ? 'verified' : 'fallback_failed'));
      } catch (err) {
        if (cancelRequested || isCancellation(err)) finish('cancelled', 'cancelled');
        else {
          log.warn('fallback phone verification failed', { type: failureType(err) });
          finish('failed', 'fallback_failed');
        }
      }
    }
  }

  setCurrentDetails(describe());
  publish();
  await condition(allHandlersFinished);
  return state;
}
