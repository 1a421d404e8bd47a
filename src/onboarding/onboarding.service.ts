import { ConflictException, Injectable } from '@nestjs/common';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { ApiSecurity } from '../auth/api-security';
import { ClientSettings } from '../auth/client-settings';
import { isClientId, notFound, ownedRun } from '../auth/ownership';
import { AppConfig } from '../config/config';
import { toHttpError } from '../temporal/errors';
import { startVerification } from '../temporal/start';
import {
  type CancelInput,
  identityContract,
  onboardingContract,
  type OnboardingInput,
  type OnboardingState,
  phoneContract,
  shared,
} from '../../workflows/contract';
import { initialOnboarding, onboarding } from '../../workflows/onboarding';

const onboardingInput = onboardingContract.schemas().input;
/**
 * Body of `POST /v1/onboardings`: the workflow input without what only the API sets; the phone step's `brand` may be
 * left to the client's default (CLIENTS_FILE).
 */
export const onboardingStartSchema = onboardingInput
  .omit({ client: true, events: true })
  .extend({ phone: onboardingInput.shape.phone.extend({ brand: shared.brand().optional() }) });

/** An onboarding start as the REST API takes it (the phone step's brand may be left to the client's default). */
export type OnboardingStartRequest = Omit<OnboardingInput, 'phone'> & {
  phone: Omit<OnboardingInput['phone'], 'brand'> & { brand?: string };
};

/** REST convenience over the `onboarding` workflow, per API client: start (idempotent per reference), read, cancel. */
@Injectable()
export class OnboardingService {
  constructor(
    private readonly client: Client,
    private readonly config: AppConfig,
    private readonly security: ApiSecurity,
    private readonly settings: ClientSettings,
  ) {}

  /**
   * Starts (or, repeated with the same body, joins) an onboarding. Refused with 409 when one of its steps' IDs is a
   * verification already running (it could never start), and with 429/422 when its phone step's first send would be.
   */
  async start(
    caller: string,
    request: OnboardingStartRequest,
    explicitProviders: readonly boolean[] = [],
  ): Promise<OnboardingState> {
    // The phone step with the client's defaults filled in and its bounds enforced (400 naming `phone.…`).
    const phone = this.settings.phoneStart(caller, request.phone, explicitProviders, 'phone.');
    this.settings.requireProvider(caller, 'stripe', 'identity');
    if (request.push) this.settings.requireProvider(caller, 'twilio', 'push');
    delete phone.reference;
    const input: OnboardingInput = { ...request, phone };
    const workflowId = onboardingContract.id(input.reference, caller);
    const events = this.settings.eventsOption(caller);
    const withClient = { ...input, client: caller, ...(events && { events }) };
    return startVerification(this.client, this.config.taskQueue, this.security.hashKey, {
      workflow: onboarding,
      workflowId,
      input: withClient,
      body: input,
      kind: onboardingContract.kind,
      client: caller,
      byReference: true,
      staticSummary: `Onboarding of ${input.reference}: phone → identity${input.push ? ' → push' : ''}`,
      staticDetails: `client: ${caller}`,
      state: (h) => h.query(onboardingContract.messages.getState),
      // The state the run starts with, built from the input as the workflow does (no query).
      first: { initial: () => initialOnboarding(withClient, workflowId, new Date().toISOString()) },
      beforeStart: async () => {
        for (const step of [phoneContract.id(input.reference, caller), identityContract.id(input.reference, caller)]) {
          if (await this.running(step)) {
            throw new ConflictException(
              `reference: verification ${step} is running; an onboarding with this reference cannot start its step`,
            );
          }
        }
        await this.security.checkFirstSend(caller, input.phone.to);
      },
    });
  }

  async get(caller: string, id: string): Promise<OnboardingState> {
    if (!isClientId(id, caller, [onboardingContract])) throw notFound('onboarding', id);
    let state: OnboardingState;
    try {
      state = await this.client.workflow.getHandle(id).query(onboardingContract.messages.getState);
    } catch (err) {
      throw toHttpError(err, id, 'onboarding');
    }
    if (state.client !== caller) throw notFound('onboarding', id);
    return state;
  }

  /** Cancels a live onboarding and its running step: 404 when not the caller's, 409 when it is over. */
  async cancel(caller: string, id: string, input: CancelInput): Promise<OnboardingState> {
    const { handle, description } = await ownedRun(this.client, caller, id, [onboardingContract], 'onboarding');
    if (description.status.name !== 'RUNNING') throw new ConflictException(`onboarding ${id} is no longer live`);
    try {
      return await handle.executeUpdate(onboardingContract.messages.cancel, { args: [input] });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ConflictException(`onboarding ${id} is no longer live`);
      throw toHttpError(err, id, 'onboarding');
    }
  }

  private async running(workflowId: string): Promise<boolean> {
    try {
      return (await this.client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw toHttpError(err, workflowId);
    }
  }
}
