import {
  BadGatewayException,
  ConflictException,
  HttpException,
  Injectable,
  Logger,
  NotFoundException,
  NotImplementedException,
} from '@nestjs/common';
import {
  Client,
  WithStartWorkflowOperation,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { StripeIdentityAdapter, type StripeIdentity } from '../../providers/stripe/identity';
import { ApiSecurity } from '../auth/api-security';
import { ClientSettings } from '../auth/client-settings';
import { isClientId, ownedRun } from '../auth/ownership';
import { AppConfig } from '../config/config';
import { toHttpError } from '../temporal/errors';
import { startVerification } from '../temporal/start';
import {
  FailureType,
  identityContract,
  identityRedactionContract,
  type IdentityRedactionInfo,
  type IdentityRedactionState,
  identityRules,
  type IdentityVerificationInput,
  type IdentityVerificationState,
  isTerminal,
  SA_PROVIDER,
  SA_PROVIDER_REF,
  SA_STATUS,
  type VerificationStatus,
} from '../../workflows/contract';
import { identityRedaction } from '../../workflows/identity/redaction';
import { initialIdentity } from '../../workflows/identity/state';
import { identityVerification } from '../../workflows/identity/workflow';

/** Body of `POST /v1/verifications/identity`: the workflow input without what only the API sets. */
export const identityStartSchema = identityRules(
  identityContract.schemas().fields.omit({ client: true, events: true }),
);

/** How long `client-secret` waits for the workflow to have created its session (right after the start). */
const SESSION_WAIT_MS = 10_000;

/** What the browser needs to open Stripe's verification flow. Never stored, never logged. */
export interface IdentityClientSecret {
  client_secret: string;
  url: string | null;
}

/**
 * Identity verification over REST: starts `identityVerification`, hands the user's browser the session's client
 * secret (read from Stripe on demand with this process's own adapter: it never enters Temporal), and redacts. Holds
 * no state.
 */
@Injectable()
export class IdentityService {
  private readonly logger = new Logger(IdentityService.name);
  private readonly stripe?: StripeIdentity;

  constructor(
    private readonly client: Client,
    private readonly config: AppConfig,
    private readonly security: ApiSecurity,
    private readonly settings: ClientSettings,
  ) {
    this.stripe = config.stripe ? new StripeIdentityAdapter(config.stripe) : undefined;
  }

  /** Starts (or, repeated with the same body, joins) an identity verification for `caller` and returns its state. */
  async start(caller: string, input: IdentityVerificationInput): Promise<IdentityVerificationState> {
    this.settings.requireProvider(caller, 'stripe', 'provider');
    const options = input.options ?? {};
    const checks = [
      input.type,
      options.requireMatchingSelfie && 'selfie',
      options.requireIdNumber && 'ID number',
      options.requireLiveCapture && 'live capture',
    ].filter(Boolean);
    const workflowId = identityContract.id(input.reference, caller);
    const events = this.settings.eventsOption(caller);
    return startVerification(this.client, this.config.taskQueue, this.security.hashKey, {
      workflow: identityVerification,
      workflowId,
      input: { ...input, client: caller, ...(events && { events }) },
      body: input,
      kind: identityContract.kind,
      client: caller,
      byReference: true,
      searchAttributes: [{ key: SA_PROVIDER, value: 'stripe' }],
      // The reference is a platform user id (not PII); `expected` (names, date of birth) never goes here.
      staticSummary: `Identity verification (${checks.join(' + ')}) of user ${input.reference} via Stripe Identity`,
      staticDetails: [
        `client: ${caller}`,
        `type: ${input.type}`,
        options.allowedTypes ? `allowed documents: ${options.allowedTypes.join(', ')}` : undefined,
        `max attempts: ${input.maxAttempts ?? identityContract.defaults.maxAttempts}`,
        `deadline: ${input.deadlineSeconds ?? identityContract.defaults.deadlineSeconds} s`,
        input.expected ? `compared with expected: ${Object.keys(input.expected).join(', ')}` : undefined,
        input.redactAfterSeconds !== undefined ? `redact after: ${input.redactAfterSeconds} s` : undefined,
      ]
        .filter(Boolean)
        .join('; '),
      state: (h) => h.query(identityContract.messages.getState),
      // The state the run starts with, built from the input as the workflow does (no query).
      first: {
        initial: () => {
          const now = Date.now();
          const defaults = identityContract.defaults;
          return initialIdentity({
            id: workflowId,
            client: caller,
            type: input.type,
            maxAttempts: input.maxAttempts ?? defaults.maxAttempts,
            expected: input.expected,
            startedAt: now,
            deadline: now + (input.deadlineSeconds ?? defaults.deadlineSeconds) * 1000,
          }).state;
        },
      },
    });
  }

  /**
   * The session's client secret and URL, read from Stripe now (Stripe hands out a fresh one while the session
   * waits on the user, e.g. after a failed attempt). 409 unless the verification waits on the user.
   */
  async clientSecret(caller: string, id: string): Promise<IdentityClientSecret> {
    const stripe = this.requireStripe();
    const sessionId = await this.waitForSession(caller, id);
    let secret;
    try {
      secret = await stripe.clientSecret(sessionId);
    } catch (err) {
      this.logger.warn(`stripe session of ${id} could not be read: ${errorLabel(err) ?? 'error'}`);
      throw new BadGatewayException('Stripe could not be reached; retry later');
    }
    if (secret.status !== 'requires_input' || !secret.clientSecret) {
      throw new ConflictException(`the Stripe session is ${secret.status}: it takes no submission now`);
    }
    return { client_secret: secret.clientSecret, url: secret.url };
  }

  /**
   * Redacts the verification's Stripe session now: through the live verification (which ends, `cancelled` /
   * `redacted`), else through its `identityRedaction` workflow — started here when there is none yet.
   */
  async redact(caller: string, id: string): Promise<IdentityRedactionInfo> {
    const { handle, description } = await ownedRun(
      this.client,
      caller,
      id,
      [identityContract],
      'identity verification',
    );
    if (description.status.name === 'RUNNING') {
      try {
        return await handle.executeUpdate(identityContract.messages.redact, { args: [{}] });
      } catch (err) {
        if (!isOver(err)) throw toHttpError(err, id);
      }
    }
    const state = await this.state(caller, id);
    if (!state.sessionId) throw new ConflictException(`verification ${id} has no Stripe session to redact`);
    const workflowId = identityRedactionContract.id(state.sessionId);
    try {
      return await this.client.workflow.executeUpdateWithStart(identityRedactionContract.messages.redact, {
        args: [{}],
        startWorkflowOperation: new WithStartWorkflowOperation(identityRedaction, {
          workflowId,
          taskQueue: this.config.taskQueue,
          args: [{ verificationId: id, sessionId: state.sessionId, delaySeconds: 0 }],
          workflowIdConflictPolicy: 'USE_EXISTING',
          staticSummary: `Redaction of the Stripe session of ${id} (requested over REST)`,
        }),
      });
    } catch (err) {
      throw toHttpError(err, workflowId);
    }
  }

  /** Where the redaction of the verification's session stands (404 when none was ever started). */
  async redaction(caller: string, id: string): Promise<IdentityRedactionState> {
    const state = await this.state(caller, id);
    if (!state.sessionId) throw new NotFoundException(`verification ${id} has no redaction`);
    try {
      return await this.client.workflow
        .getHandle(identityRedactionContract.id(state.sessionId))
        .query(identityRedactionContract.messages.getState);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new NotFoundException(`verification ${id} has no redaction`);
      throw toHttpError(err, id);
    }
  }

  /** The state of one of the caller's identity verifications; another client's answers 404 like none. */
  private async state(caller: string, id: string): Promise<IdentityVerificationState> {
    if (!isClientId(id, caller, [identityContract])) throw notFoundIdentity(id);
    let state: IdentityVerificationState;
    try {
      state = await this.client.workflow.getHandle(id).query(identityContract.messages.getState);
    } catch (err) {
      throw toHttpError(err, id, 'identity verification');
    }
    if (state.client !== caller) throw notFoundIdentity(id);
    return state;
  }

  /**
   * The session of one of the caller's live identity verifications, once the workflow has created it (it does so
   * right after the start). Read from the run's description — its `VerificationProviderRef` and `VerificationStatus`
   * search attributes — not with a query: a description is free, a query is a billed action and waits for a worker.
   */
  private async waitForSession(caller: string, id: string): Promise<string> {
    const deadline = Date.now() + SESSION_WAIT_MS;
    for (;;) {
      const { description } = await ownedRun(this.client, caller, id, [identityContract], 'identity verification');
      const status = description.typedSearchAttributes.get(SA_STATUS) as VerificationStatus | undefined;
      if (description.status.name !== 'RUNNING' || (status && isTerminal(status))) {
        throw new ConflictException(`verification ${id} is ${status ?? description.status.name.toLowerCase()}`);
      }
      const ref = description.typedSearchAttributes.get(SA_PROVIDER_REF)?.find((r) => r.startsWith('stripe:'));
      if (ref) return ref.slice('stripe:'.length);
      if (Date.now() > deadline) throw new ConflictException(`verification ${id} has no Stripe session yet; retry`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private requireStripe(): StripeIdentity {
    if (!this.stripe)
      throw new NotImplementedException('identity is not configured on this server (STRIPE_SECRET_KEY)');
    return this.stripe;
  }
}

const notFoundIdentity = (id: string) => new NotFoundException(`identity verification ${id} not found`);

/** The update could not run because the verification is over (closed, or terminal and finishing). */
function isOver(err: unknown): boolean {
  if (err instanceof HttpException) return false;
  if (err instanceof WorkflowUpdateFailedError) {
    return err.cause instanceof ApplicationFailure && err.cause.type === FailureType.NotLive;
  }
  // An update to a run that closed after our look answers "not found".
  return err instanceof WorkflowNotFoundError;
}

/**
 * What a log line says about an error: its ApplicationFailure `type`, else its class name. (workflows/common.ts's
 * `failureType` is another thing: the `type` of an ApplicationFailure anywhere in a cause chain.)
 */
function errorLabel(err: unknown): string | undefined {
  return err instanceof ApplicationFailure ? (err.type ?? undefined) : (err as Error)?.name;
}
