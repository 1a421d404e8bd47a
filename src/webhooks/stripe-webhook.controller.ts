import {
  BadRequestException,
  Controller,
  Headers,
  HttpCode,
  Logger,
  NotFoundException,
  Post,
  Req,
  type RawBodyRequest,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request } from 'express';
import { Client } from '@temporalio/client';
import { StripeMalformedEventError, StripeSignatureError, verifyStripeWebhook } from '../../providers/stripe/webhook';
import { AppConfig } from '../config/config';
import { deliver, findByProviderRef, signalOnce } from './deliver';
import { identityContract, identityRedactionContract, providerRef } from '../../workflows/contract';
import { Public } from '../auth/auth.guard';

/**
 * Stripe `identity.verification_session.*` webhooks → `providerEvent` signals. Holds no state: verify
 * `Stripe-Signature` on the raw body with `stripe.webhooks.constructEvent` (a bad or stale signature → 400, nothing
 * signalled), normalize, route (`redacted` → the session's `identityRedaction`; the rest → `metadata.workflow_id`,
 * else the VerificationProviderRef search attribute), signal, and only then answer 2xx. Temporal unreachable → 503,
 * so Stripe retries.
 */
@ApiExcludeController()
// Not an API client route: authenticated by the provider's signature, verified against the raw body.
@Public()
@Controller('webhooks/stripe')
export class StripeWebhookController {
  private readonly logger = new Logger(StripeWebhookController.name);

  constructor(
    private readonly client: Client,
    private readonly config: AppConfig,
  ) {}

  @Post()
  @HttpCode(200)
  async receive(
    @Req() req: RawBodyRequest<Request>,
    @Headers('stripe-signature') signature: string | undefined,
  ): Promise<{ received: true; delivered: boolean }> {
    const stripe = this.config.stripe;
    if (!stripe) throw new NotFoundException('Stripe is not configured on this server');
    if (!req.rawBody) throw new BadRequestException('body: a JSON body is required');
    let verified;
    try {
      verified = verifyStripeWebhook(req.rawBody, signature, stripe.webhookSecret);
    } catch (err) {
      if (err instanceof StripeMalformedEventError) throw new BadRequestException(err.message);
      if (!(err instanceof StripeSignatureError)) throw err;
      this.logger.warn(`stripe webhook rejected: ${err.message}`);
      throw new BadRequestException('invalid Stripe-Signature');
    }
    const event = verified.event;
    // `created` tells the workflow nothing its own creation of the session did not (it ignores the event): not
    // signalled, so it costs no action.
    if (!event || event.type === 'created') return { received: true, delivered: false };
    const delivered = await deliver(this.client, this.logger, `stripe ${event.type} event`, async () => {
      const workflowId =
        event.type === 'redacted'
          ? identityRedactionContract.id(event.sessionId)
          : verified.workflowId && identityContract.idPattern.test(verified.workflowId)
            ? verified.workflowId
            : await findByProviderRef(this.client, providerRef('stripe', event.sessionId), {
                kind: identityContract.kind,
              });
      if (!workflowId) {
        this.logger.warn(`stripe ${event.type} event for unknown session ${event.sessionId} acknowledged`);
        return false;
      }
      const signal =
        event.type === 'redacted'
          ? identityRedactionContract.messages.providerEvent
          : identityContract.messages.providerEvent;
      await signalOnce(this.client, workflowId, signal, event);
      return true;
    });
    return { received: true, delivered };
  }
}
