import {
  allHandlersFinished,
  CancellationScope,
  condition,
  executeChild,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { parseInput, setCancelHandler } from './common';
import type { createOnboardingActivities } from '../activities/onboarding';
import {
  cancelOnboarding,
  getOnboardingState,
  identityVerificationId,
  isTerminal,
  onboardingInputSchema,
  phoneVerificationId,
  pushEnrollmentId,
  pushEntityIdentity,
  SA_CLIENT,
  SA_KIND,
  SA_STATUS,
  type OnboardingInput,
  type OnboardingResult,
  type OnboardingState,
  type OnboardingStep,
  type VerificationStatus,
} from './definitions';
import { identityVerification } from './identity/workflow';
import { phoneVerification } from './phone-verification';

/** How a step ended. */
interface StepOutcome {
  status: 'completed' | 'failed' | 'expired' | 'cancelled';
  reason?: string;
}

const { pushEnrollmentStatus } = proxyActivities<ReturnType<typeof createOnboardingActivities>>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 5 },
});

/**
 * Onboarding of one user: phone verification, then identity verification, then (when asked) a verified push
 * factor — each step a child workflow (`phone-<reference>`, `identity-<reference>`) that the Web UI links to its
 * parent. A step that does not complete ends the onboarding with that step's outcome; cancelling the onboarding
 * (the `cancel` update, or a Temporal cancellation) cancels the running child, which releases its provider request.
 */
export async function onboarding(rawInput: OnboardingInput): Promise<OnboardingResult> {
  const input = parseInput(onboardingInputSchema, rawInput, 'onboarding');
  const client = input.client;
  /** Every step runs for the same API client (its IDs, search attribute and abuse-guard counts). */
  const inherited = client ? { typedSearchAttributes: [{ key: SA_CLIENT, value: client }] } : {};
  const pushIdentity = input.push ? pushEntityIdentity(input.push.identity, client) : undefined;
  const now = () => new Date().toISOString();
  const step = (name: OnboardingStep['name'], workflowId: string): OnboardingStep => ({
    name,
    workflowId,
    status: 'waiting',
  });
  const state: OnboardingState = {
    id: workflowInfo().workflowId,
    kind: 'onboarding',
    ...(client ? { client } : {}),
    status: 'pending',
    steps: [
      step('phone', phoneVerificationId(input.reference, client)),
      step('identity', identityVerificationId(input.reference, client)),
      ...(pushIdentity ? [step('push', pushEnrollmentId(pushIdentity))] : []),
    ],
    startedAt: now(),
    updatedAt: now(),
  };
  const results: OnboardingResult['results'] = {};
  const scope = new CancellationScope();
  let cancelRequested = false;

  setHandler(getOnboardingState, () => state);
  setCancelHandler(
    cancelOnboarding,
    state,
    () => {
      cancelRequested = true;
      scope.cancel();
    },
    'onboarding',
  );

  const publish = () =>
    upsertSearchAttributes([
      { key: SA_KIND, value: 'onboarding' },
      { key: SA_STATUS, value: state.status },
      ...(client ? [{ key: SA_CLIENT, value: client }] : []),
    ]);
  const mark = (s: OnboardingStep, status: OnboardingStep['status'], reason?: string) => {
    s.status = status;
    if (reason) s.reason = reason;
    state.updatedAt = now();
    setCurrentDetails(
      isTerminal(state.status)
        ? `${state.status}${state.reason ? ` (${state.reason})` : ''}`
        : `step ${state.steps.indexOf(s) + 1} of ${state.steps.length}: ${s.name} ${s.status} (${s.workflowId})`,
    );
  };
  const end = (status: VerificationStatus, reason?: string) => {
    state.status = status;
    state.reason = reason;
    state.step = undefined;
    state.updatedAt = now();
    for (const s of state.steps) if (s.status === 'waiting') s.status = 'skipped';
  };

  publish();
  try {
    await scope.run(async () => {
      for (const s of state.steps) {
        state.step = s.name;
        mark(s, 'running');
        const outcome = await runStep(s);
        mark(s, outcome.status, outcome.reason);
        if (cancelRequested) {
          // The child honoured our cancellation and returned its (cancelled) state.
          end('cancelled', 'cancelled');
          return;
        }
        if (outcome.status !== 'completed') {
          end(outcome.status, `${s.name}:${outcome.reason ?? outcome.status}`);
          return;
        }
      }
      end('completed', 'verified');
    });
  } catch (err) {
    if (!isCancellation(err)) throw err;
    const running = state.steps.find((s) => s.status === 'running');
    if (running) running.status = 'cancelled';
    end('cancelled', cancelRequested ? 'cancelled' : 'cancelled_by_parent');
  }
  await CancellationScope.nonCancellable(async () => {
    publish();
    await condition(allHandlersFinished);
  });
  return { ...state, results };

  async function runStep(s: OnboardingStep): Promise<StepOutcome> {
    switch (s.name) {
      case 'phone': {
        const r = await executeChild(phoneVerification, {
          workflowId: s.workflowId,
          args: [{ ...input.phone, reference: input.reference, ...(client ? { client } : {}) }],
          staticSummary: `Phone step of ${state.id}`,
          ...inherited,
        });
        results.phone = r;
        return {
          status: r.status === 'completed' ? 'completed' : (r.status as StepOutcome['status']),
          reason: r.reason,
        };
      }
      case 'identity': {
        const r = await executeChild(identityVerification, {
          workflowId: s.workflowId,
          args: [{ ...input.identity, reference: input.reference, ...(client ? { client } : {}) }],
          staticSummary: `Identity step of ${state.id}`,
          ...inherited,
        });
        results.identity = r;
        return {
          status: r.status === 'completed' ? 'completed' : (r.status as StepOutcome['status']),
          reason: r.reason,
        };
      }
      case 'push': {
        const push = input.push!;
        const deadline = Date.now() + (push.timeoutSeconds ?? 600) * 1000;
        for (;;) {
          const status = await pushEnrollmentStatus(pushIdentity!);
          if (status.verified) {
            results.push = status;
            return { status: 'completed' };
          }
          if (Date.now() >= deadline) {
            results.push = status;
            return { status: 'expired', reason: 'no_verified_factor' };
          }
          await sleep(Math.min((push.pollIntervalSeconds ?? 10) * 1000, deadline - Date.now()));
        }
      }
    }
  }
}
