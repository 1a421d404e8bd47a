import {
  Controller,
  HttpCode,
  Logger,
  Post,
  Req,
  UnauthorizedException,
  BadRequestException,
  type RawBodyRequest,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request } from 'express';
import { Client } from '@temporalio/client';
import { AppConfig } from '../config/config';
import { deliver, findByProviderRef, signalOnce } from './deliver';
import {
  normalizeVonageCallback,
  verifyVonageCallback,
  type VonageCallbackBody,
} from '../../providers/vonage/verify-callback';
import { phoneContract, providerRef } from '../../workflows/contract';
import { Public } from '../auth/auth.guard';

/**
 * Vonage Verify v2 callbacks → `providerEvent` signals. Holds no state: verify the signature on the raw body,
 * normalize, find the workflow (the `client_ref` we sent, else the VerificationProviderRef search attribute), signal,
 * and only then answer 2xx. Temporal unreachable → 503, so Vonage retries.
 */
@ApiExcludeController()
// Not an API client route: authenticated by the provider's signature, verified against the raw body.
@Public()
@Controller('webhooks/vonage')
export class VonageWebhookController {
  private readonly logger = new Logger(VonageWebhookController.name);

  constructor(
    private readonly client: Client,
    private readonly config: AppConfig,
  ) {}

  @Post()
  @HttpCode(200)
  async receive(@Req() req: RawBodyRequest<Request>): Promise<{ ok: true; delivered: boolean }> {
    const raw = req.rawBody;
    if (!raw) throw new BadRequestException('body: a JSON body is required');
    const verdict = verifyVonageCallback(raw, req.headers.authorization, this.config.vonage.signatureSecret);
    if (!verdict.ok) {
      this.logger.warn(`vonage callback rejected: ${verdict.why}`);
      throw new UnauthorizedException('invalid signature');
    }
    let body: VonageCallbackBody;
    try {
      body = JSON.parse(raw.toString('utf8')) as VonageCallbackBody;
    } catch {
      throw new BadRequestException('body: not valid JSON');
    }
    const event = normalizeVonageCallback(body);
    if (!event) return { ok: true, delivered: false };
    const delivered = await deliver(this.client, this.logger, `vonage ${event.status} callback`, async () => {
      const workflowId = body.client_ref ?? (await findByProviderRef(this.client, providerRef('vonage', event.ref)));
      if (!workflowId) {
        this.logger.warn(`vonage callback for unknown request ${event.ref} (${event.status}) acknowledged`);
        return false;
      }
      await signalOnce(this.client, workflowId, phoneContract.messages.providerEvent, event);
      return true;
    });
    return { ok: true, delivered };
  }
}
