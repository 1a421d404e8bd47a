import { Controller, Get, HttpCode, Logger, NotFoundException, Post, Req, UnauthorizedException } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request } from 'express';
import { Client } from '@temporalio/client';
import { AppConfig } from '../config/config';
import { deliver, findByProviderRef, signalOnce } from './deliver';
import {
  normalizeVonageSmsReceipt,
  verifyVonageSmsReceipt,
  type VonageSmsReceipt,
} from '../../providers/vonage/sms-receipt';
import { providerRef, smsDeliveryContract } from '../../workflows/contract';
import { Public } from '../auth/auth.guard';

/**
 * Vonage SMS API delivery receipts → `providerEvent` signals to `smsDelivery`. Holds no state: verify the `sig`
 * (signature secret and method of the account) and its timestamp, normalize, find the workflow (the `client-ref` we
 * sent, else the VerificationProviderRef search attribute), signal, and only then answer 2xx. Temporal unreachable
 * → 503, so Vonage retries. Receipts come as POST (JSON or form) or GET (query), as the account is configured.
 */
@ApiExcludeController()
// Not an API client route: authenticated by the provider's signature, verified against the raw body.
@Public()
@Controller('webhooks/vonage-sms')
export class VonageSmsWebhookController {
  private readonly logger = new Logger(VonageSmsWebhookController.name);

  constructor(
    private readonly client: Client,
    private readonly config: AppConfig,
  ) {}

  @Post()
  @HttpCode(200)
  post(@Req() req: Request) {
    return this.receive(req);
  }

  @Get()
  @HttpCode(200)
  get(@Req() req: Request) {
    return this.receive(req);
  }

  private async receive(req: Request): Promise<{ ok: true; delivered: boolean }> {
    const settings = this.config.sms.vonageSms;
    if (!settings) throw new NotFoundException('the Vonage SMS API is not configured');
    const params: Record<string, unknown> = {
      ...(req.query as Record<string, unknown>),
      ...(req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {}),
    };
    const verdict = verifyVonageSmsReceipt(params, settings.signatureSecret, settings.signatureMethod);
    if (!verdict.ok) {
      this.logger.warn(`vonage SMS receipt rejected: ${verdict.why}`);
      throw new UnauthorizedException('invalid signature');
    }
    const receipt = params as VonageSmsReceipt;
    const event = normalizeVonageSmsReceipt(receipt);
    if (!event) return { ok: true, delivered: false };
    const delivered = await deliver(this.client, this.logger, `vonage SMS receipt (${event.status})`, async () => {
      const ref = receipt['client-ref'];
      const workflowId = ref?.startsWith('sms-')
        ? ref
        : await findByProviderRef(this.client, providerRef('vonage', event.ref));
      if (!workflowId) {
        this.logger.warn(`vonage SMS receipt for unknown message ${event.ref} (${event.status}) acknowledged`);
        return false;
      }
      await signalOnce(this.client, workflowId, smsDeliveryContract.messages.providerEvent, event);
      return true;
    });
    return { ok: true, delivered };
  }
}
