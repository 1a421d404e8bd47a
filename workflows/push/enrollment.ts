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
import { createInbox, parseInput, type ProviderInbox } from '../common';
import { formatIssues, SA_CLIENT, SA_KIND, SA_PROVIDER, SA_STATUS, shared } from '../contract/common';
import {
  type ApproveFactorInput,
  pushEnrollmentContract,
  type PushEnrollmentInput,
  type PushEnrollmentState,
} from '../contract/push-enrollment';
import {
  applyFactorEvent,
  approve,
  describeEnrollment,
  hasVerifiedFactor,
  initialEnrollment,
  isFactorEvent,
  openWindow,
  settle,
  validateApproval,
  windowOpen,
  type EnrollmentModel,
} from './enrollment-state';

const {
  approveFactor,
  enrollmentRequested,
  getState: getEnrollmentState,
  providerEvent: pushProviderEvent,
} = pushEnrollmentContract.messages;

// Time here is the workflow clock: Date.now() and new Date() are deterministic inside the workflow sandbox.
type Input = ReturnType<ReturnType<typeof pushEnrollmentContract.schemas>['input']['parse']>;

/** Processed events after which the run continues as new, keeping its history short. */
const EVENTS_PER_RUN = 500;
/** Event ids carried over continue-as-new (the newest), so a webhook redelivered across runs stays a duplicate. */
const CARRIED_EVENT_IDS = 200;

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
 * enroll a device of their own and answer the next challenge. The transitions are in `./enrollment-state.ts`.
 */
export async function pushEnrollment(rawInput: PushEnrollmentInput): Promise<PushEnrollmentState> {
  const run = new EnrollmentRun(parseInput(pushEnrollmentContract.schemas().input, rawInput, 'pushEnrollment'));
  run.listen();
  await run.follow();
  await condition(allHandlersFinished);
  return run.state;
}

/** One run of an identity's enrollment: the model, the state it shows, and the handlers that feed it. */
class EnrollmentRun {
  state: PushEnrollmentState;
  private model: EnrollmentModel;
  /** Bumped whenever the main loop must look again. */
  private tick = 0;
  private readonly inbox: ProviderInbox;

  constructor(private readonly input: Input) {
    const now = new Date().toISOString();
    this.model = initialEnrollment(input);
    this.state = {
      id: workflowInfo().workflowId,
      kind: 'push_enrollment',
      identity: input.identity,
      ...(input.client ? { client: input.client } : {}),
      status: 'pending',
      verified: false,
      factors: [...this.model.factors],
      startedAt: now,
      updatedAt: now,
    };
    this.inbox = createInbox({
      schema: shared.pushProviderEvent(),
      seen: input.seenEventIds,
      route: (e) => (isFactorEvent(this.model, e) ? 'deliver' : { drop: 'event not about a factor of this identity' }),
      deliver: (e) => this.change(applyFactorEvent(this.model, e, new Date().toISOString())),
    });
  }

  listen(): void {
    setHandler(getEnrollmentState, () => this.state);
    setHandler(enrollmentRequested, (raw) => {
      const r = pushEnrollmentContract.schemas().enrollmentRequest.safeParse(raw ?? {});
      if (!r.success) {
        log.warn('malformed enrollment request dropped', { issues: formatIssues(r.error) });
        return;
      }
      // A further device may enroll while a factor is verified; its factor events are followed all the same.
      if (hasVerifiedFactor(this.model)) return;
      const timeoutSeconds = r.data.timeoutSeconds ?? pushEnrollmentContract.defaults.timeoutSeconds;
      this.change(openWindow(this.model, timeoutSeconds, Date.now()));
    });
    setHandler(pushProviderEvent, (raw) => this.inbox.receive(raw));
    setHandler(
      approveFactor,
      (req: ApproveFactorInput) => {
        this.change(approve(this.model, req, new Date().toISOString()));
        return this.state;
      },
      { validator: (req) => validateApproval(req, this.model) },
    );
  }

  /**
   * Follows the factors until no verified factor is left and the window is closed, publishing each new status and
   * continuing as new when the history grows.
   */
  async follow(): Promise<void> {
    this.refresh();
    this.publish();
    let published = this.state.status;
    for (;;) {
      this.refresh();
      if (this.state.status !== published) {
        this.publish();
        published = this.state.status;
      }
      setCurrentDetails(describeEnrollment(this.model, this.state, Date.now()));
      if (!this.state.verified && !windowOpen(this.model, Date.now())) break;
      if (this.inbox.received >= EVENTS_PER_RUN || workflowInfo().continueAsNewSuggested) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof pushEnrollment>(this.carryOver());
      }
      const seen = this.tick;
      if (this.state.verified) await condition(() => this.tick !== seen);
      else {
        const wait = Math.max(1, this.model.deadlineMs! - Date.now());
        await condition(() => this.tick !== seen, wait, { summary: 'enrollment window' });
      }
    }
  }

  /** The model changed: the state shows it and the loop looks again. */
  private change(model: EnrollmentModel): void {
    this.model = model;
    this.refresh();
    this.state.updatedAt = new Date().toISOString();
    this.tick++;
  }

  private refresh(): void {
    const { model, view } = settle(this.model, Date.now());
    this.model = model;
    this.state = { ...this.state, ...view, factors: [...model.factors] };
  }

  private carryOver(): PushEnrollmentInput {
    return {
      identity: this.input.identity,
      ...(this.input.client ? { client: this.input.client } : {}),
      factors: this.model.factors.map((f) => ({ ...f })),
      deadline: this.state.deadline,
      approvals: this.model.approvals.slice(-100),
      seenEventIds: this.inbox.seenIds(CARRIED_EVENT_IDS),
    };
  }

  private publish(): void {
    upsertSearchAttributes([
      { key: SA_KIND, value: 'push_enrollment' },
      { key: SA_STATUS, value: this.state.status },
      { key: SA_PROVIDER, value: 'twilio' },
      ...(this.input.client ? [{ key: SA_CLIENT, value: this.input.client }] : []),
    ]);
  }
}
