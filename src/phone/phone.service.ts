import { BadRequestException, Injectable } from '@nestjs/common';
import { Client } from '@temporalio/client';
import { ApiSecurity } from '../auth/api-security';
import { ClientSettings, type PhoneStartRequest } from '../auth/client-settings';
import { AppConfig } from '../config/config';
import { randomKey, startVerification } from '../temporal/start';
import {
  phoneContract,
  type PhoneVerificationInput,
  type PhoneVerificationState,
  SA_CHANNEL,
  SA_PROVIDER,
  SA_STATUS,
} from '../../workflows/contract';
import { initialState, planChannels } from '../../workflows/phone/state';
import { phoneVerification } from '../../workflows/phone/workflow';

/**
 * Phone verification over REST: starts `phoneVerification` for the authenticated API client. Everything after the
 * start (state, code checks, next channel, resend, cancel) goes through `/v1/verifications/:id` like every kind
 * (src/verifications/). Holds no state.
 */
@Injectable()
export class PhoneService {
  constructor(
    private readonly client: Client,
    private readonly config: AppConfig,
    private readonly security: ApiSecurity,
    private readonly settings: ClientSettings,
  ) {}

  /**
   * Starts (or, repeated with the same reference and body, joins) a phone verification for `caller` and returns its
   * state, without a query: built from the input, or — silent auth first — answered by the run once its check URL
   * exists. The first send is counted by the abuse guard before anything starts; a refusal starts nothing.
   */
  async start(
    caller: string,
    request: PhoneStartRequest,
    explicitProviders: readonly boolean[] = [],
  ): Promise<PhoneVerificationState> {
    // The client's defaults filled in, its bounds enforced (400 naming the field).
    const body = this.settings.phoneStart(caller, request, explicitProviders);
    if (body.messageTemplate !== undefined && !this.security.templates.has(caller, body.messageTemplate)) {
      throw new BadRequestException(`messageTemplate: no template named ${body.messageTemplate} is configured`);
    }
    const defaults = phoneContract.defaults;
    const channels = (body.channels ?? defaults.channels).map((c) => c.channel).join(' → ');
    const events = this.settings.eventsOption(caller);
    const input: PhoneVerificationInput = {
      ...body,
      client: caller,
      firstSendCounted: true,
      ...(events && { events }),
    };
    const workflowId = phoneContract.id(body.reference ?? randomKey(), caller);
    const plan = planChannels(input);
    const state = await startVerification(this.client, this.config.taskQueue, this.security.hashKey, {
      workflow: phoneVerification,
      workflowId,
      input,
      body,
      kind: phoneContract.kind,
      client: caller,
      byReference: body.reference !== undefined,
      // What the run says once its first channel is live (silent auth: action_pending, with its check URL), so it
      // upserts nothing until the channel or status moves.
      searchAttributes: [
        { key: SA_STATUS, value: plan[0].channel === 'silent_auth' ? 'action_pending' : 'pending' },
        { key: SA_CHANNEL, value: plan[0].channel },
        { key: SA_PROVIDER, value: plan[0].provider },
      ],
      // No destination in summaries: they are stored in clear.
      staticSummary: `Phone verification for ${body.brand} via ${channels}`,
      staticDetails: `client: ${caller}; channels: ${channels}; expiry: ${body.expirySeconds ?? defaults.expirySeconds} s; max code attempts: ${body.maxCodeAttempts ?? defaults.maxCodeAttempts}${body.reference ? `; reference: ${body.reference}` : ''}`,
      // The destination travels in the (encrypted) memo, so a check can be refused here, before it costs an update.
      memo: { guardDestination: body.to },
      state: (h) => h.query(phoneContract.messages.getState),
      // The caller of silent auth needs its check URL: the update sent with the start answers once it exists. Any
      // other first channel answers the state the run starts with, built here from the input as the workflow does.
      first:
        plan[0].channel === 'silent_auth'
          ? { update: phoneContract.messages.started }
          : { initial: () => initialState(input, workflowId, Date.now()).view },
      // The first send goes where the first channel sends: an email channel's own address, else the number.
      beforeStart: () => this.security.countFirstSend(caller, body.channels?.[0]?.to ?? body.to),
    });
    // Its checks then read the owner and the guard's destination from the note instead of describing the run. The
    // run lives until its expiry; a minute more covers the checks that race it.
    await this.security.noteRun(workflowId, caller, body.to, (body.expirySeconds ?? defaults.expirySeconds) + 60);
    return state;
  }
}
