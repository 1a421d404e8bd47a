import { pushContract } from '../../workflows/contract';
import {
  ForbiddenException,
  Controller,
  HttpCode,
  Logger,
  NotFoundException,
  Post,
  Req,
  type RawBodyRequest,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request } from 'express';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { AppConfig } from '../config/config';
import { deliver, findByProviderRef, signalOnce } from './deliver';
import {
  normalizeTwilioPushWebhook,
  parseForm,
  routedPushVerificationId,
  verifyTwilioSignature,
} from '../../providers/twilio/webhook';
import {
  providerRef,
  pushEnrollmentContract,
  type PushProviderEvent,
  SA_CLIENT,
  SA_KIND,
  SA_PROVIDER,
  shared,
} from '../../workflows/contract';
import { pushEnrollment } from '../../workflows/push/enrollment';
import { Public } from '../auth/auth.guard';

/** Visibility (search attributes) may lag a moment behind the workflow on some clusters: look a few times. */
const LOOKUP_ATTEMPTS = 4;
const LOOKUP_DELAY_MS = 250;

/**
 * Twilio Verify Push webhooks → `providerEvent` signals. Holds no state: verify X-Twilio-Signature over the
 * configured public webhook URL and the form parameters of the raw body (403 and nothing signalled when it does not
 * match), normalize, route, signal, and only then answer 2xx; Temporal unreachable → 503 so Twilio retries.
 *
 * Routing: `factor.*` events go to the identity's `pushEnrollment` (`push-enrollment-<identity>`, started first when
 * none runs, so a late factor.verified still lands); `challenge.*` events go to the `pushVerification` whose
 * VerificationProviderRef search attribute holds `twilio:<challenge sid>` — Twilio assigns the challenge SID, so no
 * workflow ID can be derived from it, and the workflow publishes that attribute in the same task in which it learns
 * the SID (before any device can answer). Repeats are dropped by the server (`signalOnce`) and by the workflows
 * (by the webhook `uuid`).
 */
@ApiExcludeController()
// Not an API client route: authenticated by the provider's signature, verified against the raw body.
@Public()
@Controller('webhooks/twilio')
export class TwilioWebhookController {
  private readonly logger = new Logger(TwilioWebhookController.name);

  constructor(
    private readonly client: Client,
    private readonly config: AppConfig,
  ) {}

  @Post()
  @HttpCode(200)
  async receive(@Req() req: RawBodyRequest<Request>): Promise<{ ok: true; delivered: boolean }> {
    const twilio = this.config.twilio;
    if (!twilio) throw new NotFoundException('push is not configured on this server');
    const params = parseForm(req.rawBody ?? Buffer.alloc(0));
    if (!verifyTwilioSignature(twilio.authToken, req.get('x-twilio-signature'), twilio.webhookUrl, params)) {
      this.logger.warn('twilio webhook rejected: bad or missing X-Twilio-Signature');
      throw new ForbiddenException('invalid signature');
    }
    const event = normalizeTwilioPushWebhook(params);
    if (!event) return { ok: true, delivered: false };
    if (params.account_sid !== twilio.accountSid || params.service_sid !== twilio.serviceSid) {
      this.logger.warn(`twilio webhook of another account or service ignored (${event.type})`);
      return { ok: true, delivered: false };
    }
    const delivered = await deliver(this.client, this.logger, `twilio ${event.type}`, () =>
      event.type.startsWith('factor.') ? this.toEnrollment(event) : this.toVerification(event, params),
    );
    return { ok: true, delivered };
  }

  private async toEnrollment(event: PushProviderEvent): Promise<boolean> {
    if (!shared.pushIdentity().safeParse(event.identity).success) {
      this.logger.warn(`twilio ${event.type} for an identity verifyflow would not accept ignored`);
      return false;
    }
    const workflowId = pushEnrollmentContract.id(event.identity);
    // The event goes in with a request ID the server dedupes, so replays cost nothing. When the identity has no
    // running enrollment, start one first (an idempotent start, not signal-with-start, whose request ID is random).
    try {
      await signalOnce(this.client, workflowId, pushEnrollmentContract.messages.providerEvent, event);
      return true;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    // An API client's users are the Twilio entities `<client>-<identity>`: the enrollment belongs to that client.
    const client = Object.keys(this.config.auth.clients).find((c) => event.identity.startsWith(`${c}-`));
    await this.client.workflow.start(pushEnrollment, {
      workflowId,
      taskQueue: this.config.taskQueue,
      args: [{ identity: event.identity, ...(client ? { client } : {}) }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: [
        { key: SA_KIND, value: pushEnrollmentContract.kind },
        { key: SA_PROVIDER, value: 'twilio' },
        ...(client ? [{ key: SA_CLIENT, value: client }] : []),
      ],
      staticSummary: 'Push enrollment (Twilio Verify): follows factor.created → factor.verified',
    });
    await signalOnce(this.client, workflowId, pushEnrollmentContract.messages.providerEvent, event);
    return true;
  }

  private async toVerification(event: PushProviderEvent, params: Record<string, string | string[]>): Promise<boolean> {
    // The challenge carries its run's ID (runs from 2026-12-05 on): no lookup. The run ignores another challenge's.
    const routed = routedPushVerificationId(params);
    if (routed) {
      await signalOnce(this.client, routed, pushContract.messages.providerEvent, event);
      return true;
    }
    const ref = providerRef('twilio', event.challengeSid!);
    const workflowId = await findByProviderRef(this.client, ref, {
      attempts: LOOKUP_ATTEMPTS,
      delayMs: LOOKUP_DELAY_MS,
    });
    if (!workflowId) {
      this.logger.warn(`twilio ${event.type} for unknown challenge ${event.challengeSid} acknowledged`);
      return false;
    }
    await signalOnce(this.client, workflowId, pushContract.messages.providerEvent, event);
    return true;
  }
}
