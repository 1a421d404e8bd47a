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
import { ApiSecurity } from '../auth/api-security';

/**
 * Vonage Verify v2 callbacks → `providerEvent` signals. Holds no state: verify the signature on the raw body,
 * normalize, find the workflow (the `client_ref` we sent, else the VerificationProviderRef search attribute), signal,
 * and only then answer 2xx. Temporal unreachable → 503, so Vonage retries. A callback for a request that a check of
 * ours completed is acknowledged without a signal (the guard's store says so; `completedByOurCheck`).
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
    private readonly security: ApiSecurity,
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
    if (await this.completedByOurCheck(event.ref)) {
      this.logger.debug(`vonage ${event.status} callback for ${event.ref}: our own check completed it; acknowledged`);
      return { ok: true, delivered: false };
    }
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

  /**
   * Whether a check of ours completed the request (the check activity noted it in the guard's store): its run is
   * verified, ending or over, and nothing Vonage says about that request any more can change it — neither the
   * `completed` that follows the check nor the `failed` of an earlier step that the check overtook. So the callback is
   * not signalled. Under load the signal would reach the run while its last workflow task completes it; the server
   * then fails that task (a new event arrived), and the run pays a signal and a workflow task more. A store error
   * answers false: the callback is signalled, as it always was.
   */
  private async completedByOurCheck(requestId: string): Promise<boolean> {
    try {
      return await this.security.guard.completedByCheck(providerRef('vonage', requestId));
    } catch (err) {
      this.logger.warn(`could not ask the guard's store about request ${requestId}: ${String(err)}; signalling`);
      return false;
    }
  }
}
