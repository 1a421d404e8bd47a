import { allHandlersFinished, condition, setCurrentDetails, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  activitiesWithSummaries,
  createInbox,
  failureType,
  parseInput,
  PROVIDER_ACTIVITY_OPTIONS,
  rejectIfNotLive,
} from '../common';
import type { createIdentityActivities } from '../../activities/identity';
import { FailureType, formatIssues, shared, type VerificationStatus } from '../contract/common';
import {
  identityRedactionContract,
  type IdentityRedactionInfo,
  type IdentityRedactionInput,
  type IdentityRedactionState,
} from '../contract/identity-redaction';

const {
  getState: getRedactionState,
  providerEvent: identityProviderEvent,
  redact,
} = identityRedactionContract.messages;

// Time here is the workflow clock: Date.now() and new Date() are deterministic inside the workflow sandbox.
type Input = ReturnType<ReturnType<typeof identityRedactionContract.schemas>['input']['parse']>;

const call = activitiesWithSummaries<ReturnType<typeof createIdentityActivities>>(PROVIDER_ACTIVITY_OPTIONS);
const summary = (text: string) => ({ ...PROVIDER_ACTIVITY_OPTIONS, summary: text });

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
  const run = new RedactionRun(parseInput(identityRedactionContract.schemas().input, rawInput, 'identityRedaction'));
  run.listen();
  await run.waitUntilDue();
  await run.requestRedaction();
  await run.awaitConfirmation();
  await condition(allHandlersFinished);
  return run.state;
}

/** The `redact` update's validator: a well-formed (empty or omitted) argument; a verification must still be live. */
export function validateRedact(req: unknown, verificationStatus?: VerificationStatus): void {
  const r = identityRedactionContract.schemas().redactInput.safeParse(req ?? {});
  if (!r.success) throw new Error(formatIssues(r.error));
  if (verificationStatus) rejectIfNotLive(verificationStatus);
}

/** One redaction: its state, the handlers that feed it and the steps that call Stripe. */
class RedactionRun {
  readonly state: IdentityRedactionState;
  private redactNow: boolean;
  private redactedSeen = false;

  constructor(private readonly input: Input) {
    const startedAt = Date.now();
    this.state = {
      status: 'scheduled',
      workflowId: workflowInfo().workflowId,
      verificationId: input.verificationId,
      sessionId: input.sessionId,
      redactAt: new Date(startedAt + input.delaySeconds * 1000).toISOString(),
      updatedAt: new Date(startedAt).toISOString(),
    };
    this.redactNow = input.delaySeconds === 0;
  }

  listen(): void {
    const inbox = createInbox({
      schema: shared.identityProviderEvent(),
      route: (e) => (e.sessionId === this.input.sessionId ? 'deliver' : { drop: 'event of another session ignored' }),
      deliver: (e) => {
        if (e.type === 'redacted' || e.redactionStatus === 'redacted') this.redactedSeen = true;
      },
    });
    setHandler(getRedactionState, () => this.state);
    setHandler(identityProviderEvent, (raw) => inbox.receive(raw));
    setHandler(
      redact,
      async (): Promise<IdentityRedactionInfo> => {
        this.redactNow = true;
        await condition(() => this.state.status !== 'scheduled');
        return this.info();
      },
      { validator: (req) => validateRedact(req) },
    );
  }

  /** The delay, cut short by the `redact` update. */
  async waitUntilDue(): Promise<void> {
    const { delaySeconds } = this.input;
    this.set('scheduled');
    if (!this.redactNow) {
      await condition(() => this.redactNow, delaySeconds * 1000, { summary: `redact after ${delaySeconds} s` });
    }
    this.state.redactAt = new Date().toISOString();
  }

  /** Asks Stripe to redact; a session still processing refuses until its checks are over. */
  async requestRedaction(): Promise<void> {
    const { sessionId } = this.input;
    const pollMs = (this.input.pollSeconds ?? DEFAULT_REDACTION_POLL_SECONDS) * 1000;
    const waitUntil = Date.now() + REDACTION_MAX_WAIT_MS;
    while (this.state.status === 'scheduled' || this.state.status === 'waiting') {
      try {
        const s = await call('stripeRedactSession', summary('redact the Stripe session'), sessionId);
        this.set(s.redactionStatus === 'redacted' ? 'redacted' : 'processing');
      } catch (err) {
        if (failureType(err) !== FailureType.ProviderRejected) {
          this.set('failed', `Stripe refused the redaction (${failureType(err) ?? 'error'})`);
          break;
        }
        const s = await call('stripeRetrieveSession', summary('read the session Stripe would not redact'), sessionId);
        if (s.redactionStatus === 'redacted') this.set('redacted');
        else if (s.redactionStatus === 'processing') this.set('processing');
        else if (s.status === 'processing' && Date.now() < waitUntil) {
          this.set('waiting');
          await condition(() => this.redactedSeen, pollMs, { summary: 'wait for the session to finish processing' });
        } else this.set('failed', `Stripe cannot redact a ${s.status} session`);
      }
    }
  }

  /** Stripe redacts within 4 days and then sends `redacted`; the session is read daily in case the event is lost. */
  async awaitConfirmation(): Promise<void> {
    const giveUpAt = Date.now() + REDACTION_GIVE_UP_MS;
    while (this.state.status === 'processing') {
      if (this.redactedSeen) {
        this.set('redacted');
        break;
      }
      const seen = await condition(() => this.redactedSeen, Math.min(REDACTION_CHECK_MS, giveUpAt - Date.now()), {
        summary: 'wait for the redacted event',
      });
      if (seen) continue;
      const s = await call('stripeRetrieveSession', summary('check the redaction'), this.input.sessionId);
      if (s.redactionStatus === 'redacted') this.set('redacted');
      else if (Date.now() >= giveUpAt) this.set('failed', 'Stripe did not confirm the redaction within 5 days');
    }
  }

  private set(status: IdentityRedactionState['status'], error?: string): void {
    const { state } = this;
    state.status = status;
    if (error) state.error = error;
    if (status === 'redacted') state.redactedAt = new Date().toISOString();
    state.updatedAt = new Date().toISOString();
    setCurrentDetails(
      status === 'scheduled'
        ? `redaction of ${this.input.sessionId} due ${state.redactAt!.slice(0, 16).replace('T', ' ')} UTC`
        : `redaction of ${this.input.sessionId}: ${status}${error ? ` (${error})` : ''}`,
    );
  }

  private info(): IdentityRedactionInfo {
    const { status, workflowId, redactAt, error } = this.state;
    return { status, workflowId, redactAt, ...(error ? { error } : {}) };
  }
}
