import {
  allHandlersFinished,
  CancellationScope,
  condition,
  executeChild,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { parseInput, publishChanged, setCancelHandler, tookReleasePatch } from './common';
import { verificationEvents } from './events';
import type { createOnboardingActivities } from '../activities/onboarding';
import { isTerminal, SA_CLIENT, SA_KIND, SA_STATUS, type VerificationStatus } from './contract/common';
import { identityContract } from './contract/identity';
import {
  onboardingContract,
  type OnboardingInput,
  type OnboardingResult,
  type OnboardingState,
  type OnboardingStep,
} from './contract/onboarding';
import { phoneContract } from './contract/phone';
import { pushEnrollmentContract } from './contract/push-enrollment';
import { identityVerification } from './identity/workflow';
import { phoneVerification } from './phone/workflow';

type Input = ReturnType<ReturnType<typeof onboardingContract.schemas>['input']['parse']>;

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
  const input = parseInput(onboardingContract.schemas().input, rawInput, 'onboarding');
  const release = tookReleasePatch();
  const run = new OnboardingRun(input, release);
  // Outbound `onboarding.*` events of each status change, when the client has an events endpoint.
  const events = verificationEvents(
    'onboarding',
    'onboarding',
    input,
    () => run.state,
    () => ({ to: input.phone.to }),
    release,
  );
  run.listen();
  run.publish();
  await run.runSteps();
  await CancellationScope.nonCancellable(async () => {
    run.publish();
    await condition(allHandlersFinished);
    await events.end();
  });
  return { ...run.state, results: run.results };
}

const now = () => new Date().toISOString();

/** The Twilio entity of the push step, when there is one. */
const pushIdentityOf = (input: OnboardingInput): string | undefined =>
  input.push ? pushEnrollmentContract.helpers.entityIdentity(input.push.identity, input.client) : undefined;

/**
 * The state an onboarding starts with (pure: the REST start answers it without asking the workflow). `at`: ISO time.
 */
export function initialOnboarding(input: OnboardingInput, id: string, at: string): OnboardingState {
  const client = input.client;
  const pushIdentity = pushIdentityOf(input);
  const step = (name: OnboardingStep['name'], workflowId: string): OnboardingStep => ({
    name,
    workflowId,
    status: 'waiting',
  });
  return {
    id,
    kind: 'onboarding',
    ...(client ? { client } : {}),
    status: 'pending',
    steps: [
      step('phone', phoneContract.id(input.reference, client)),
      step('identity', identityContract.id(input.reference, client)),
      ...(pushIdentity ? [step('push', pushEnrollmentContract.id(pushIdentity))] : []),
    ],
    startedAt: at,
    updatedAt: at,
  };
}

/** One onboarding: its state, the steps' results, and the scope its children run in (cancelled by `cancel`). */
class OnboardingRun {
  readonly state: OnboardingState;
  readonly results: OnboardingResult['results'] = {};
  private readonly scope = new CancellationScope();
  private cancelRequested = false;
  private readonly client: string | undefined;
  private readonly pushIdentity: string | undefined;
  /** Search attributes upserted only when they change (runs from before upserted at the start too). */
  private readonly attributesWhenChanged: boolean;

  constructor(
    private readonly input: Input,
    /** The run took `RELEASE_PATCH` (it stands for this workflow's older patches). */
    private readonly release: boolean,
  ) {
    this.attributesWhenChanged = release || patched('fewer-billed-actions');
    this.client = input.client;
    this.pushIdentity = pushIdentityOf(input);
    this.state = initialOnboarding(input, workflowInfo().workflowId, now());
  }

  listen(): void {
    setHandler(onboardingContract.messages.getState, () => this.state);
    const requestCancel = () => {
      this.cancelRequested = true;
      this.scope.cancel();
    };
    setCancelHandler(onboardingContract.messages.cancel, this.state, requestCancel, 'onboarding');
  }

  /** Each step in turn; the first that does not complete ends the onboarding with its outcome. */
  async runSteps(): Promise<void> {
    const { state } = this;
    try {
      await this.scope.run(async () => {
        for (const s of state.steps) {
          state.step = s.name;
          this.mark(s, 'running');
          const outcome = await this.runStep(s);
          this.mark(s, outcome.status, outcome.reason);
          // The child honoured our cancellation and returned its (cancelled) state.
          if (this.cancelRequested) return this.end('cancelled', 'cancelled');
          if (outcome.status !== 'completed') {
            return this.end(outcome.status, `${s.name}:${outcome.reason ?? outcome.status}`);
          }
        }
        this.end('completed', 'verified');
      });
    } catch (err) {
      if (!isCancellation(err)) throw err;
      const running = state.steps.find((s) => s.status === 'running');
      if (running) running.status = 'cancelled';
      this.end('cancelled', this.cancelRequested ? 'cancelled' : 'cancelled_by_parent');
    }
  }

  private runStep(s: OnboardingStep): Promise<StepOutcome> {
    const { input, client } = this;
    const common = { reference: input.reference, ...(client ? { client } : {}) };
    const options = (label: string) => ({
      workflowId: s.workflowId,
      staticSummary: `${label} step of ${this.state.id}`,
      // Every step runs for the same API client (its IDs, search attribute and abuse-guard counts).
      ...(client ? { typedSearchAttributes: [{ key: SA_CLIENT, value: client }] } : {}),
    });
    switch (s.name) {
      case 'phone':
        return childStep(
          () => executeChild(phoneVerification, { ...options('Phone'), args: [{ ...input.phone, ...common }] }),
          (r) => (this.results.phone = r),
          this.release,
        );
      case 'identity':
        return childStep(
          () =>
            executeChild(identityVerification, { ...options('Identity'), args: [{ ...input.identity, ...common }] }),
          (r) => (this.results.identity = r),
          this.release,
        );
      case 'push':
        return this.pushStep(input.push!, this.pushIdentity!);
    }
  }

  /** Waits until the push identity has a verified factor (its enrollment says so), for `timeoutSeconds` at most. */
  private async pushStep(push: NonNullable<Input['push']>, identity: string): Promise<StepOutcome> {
    const deadline = Date.now() + (push.timeoutSeconds ?? 600) * 1000;
    for (;;) {
      const status = await pushEnrollmentStatus(identity);
      if (status.verified) {
        this.results.push = status;
        return { status: 'completed' };
      }
      if (Date.now() >= deadline) {
        this.results.push = status;
        return { status: 'expired', reason: 'no_verified_factor' };
      }
      await sleep(Math.min((push.pollIntervalSeconds ?? 10) * 1000, deadline - Date.now()));
    }
  }

  private mark(s: OnboardingStep, status: OnboardingStep['status'], reason?: string): void {
    const { state } = this;
    s.status = status;
    if (reason) s.reason = reason;
    state.updatedAt = now();
    setCurrentDetails(
      isTerminal(state.status)
        ? `${state.status}${state.reason ? ` (${state.reason})` : ''}`
        : `step ${state.steps.indexOf(s) + 1} of ${state.steps.length}: ${s.name} ${s.status} (${s.workflowId})`,
    );
  }

  private end(status: VerificationStatus, reason?: string): void {
    const { state } = this;
    state.status = status;
    state.reason = reason;
    state.step = undefined;
    state.updatedAt = now();
    for (const s of state.steps) if (s.status === 'waiting') s.status = 'skipped';
  }

  /** Publishes kind, status and client: what changed (the start sets them), or all of them in older runs. */
  publish(): void {
    if (this.attributesWhenChanged) {
      publishChanged([
        { key: SA_KIND, value: 'onboarding' },
        { key: SA_STATUS, value: this.state.status },
        ...(this.client ? [{ key: SA_CLIENT, value: this.client }] : []),
      ]);
      return;
    }
    upsertSearchAttributes([
      { key: SA_KIND, value: 'onboarding' },
      { key: SA_STATUS, value: this.state.status },
      ...(this.client ? [{ key: SA_CLIENT, value: this.client }] : []),
    ]);
  }
}

/**
 * Runs a step's child workflow, keeps its result and ends the step with the child's status and reason. A child whose
 * workflow ID is already running (a verification the caller started with the same reference) ends the step `failed`
 * with `step_already_running` rather than the whole run failing at once with the step shown `running` forever. It is
 * not joined: that verification was started by someone else, with an input the onboarding did not choose (another
 * number, say), so its outcome cannot stand for this step. Runs from before this failed there; the patch keeps their
 * replay identical.
 */
async function childStep<R extends { status: VerificationStatus; reason?: string }>(
  start: () => Promise<R>,
  keep: (result: R) => void,
  /** The run took `RELEASE_PATCH`, which stands for `onboarding-step-already-running`. */
  release: boolean,
): Promise<StepOutcome> {
  let result: R;
  try {
    result = await start();
  } catch (err) {
    if (
      err instanceof WorkflowExecutionAlreadyStartedError &&
      (release || patched('onboarding-step-already-running'))
    ) {
      return { status: 'failed', reason: 'step_already_running' };
    }
    throw err;
  }
  keep(result);
  // A child returns once it is over: its status is a terminal one.
  return { status: result.status as StepOutcome['status'], reason: result.reason };
}
