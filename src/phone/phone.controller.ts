import { Body, Controller, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Caller } from '../auth/auth.guard';
import type { ApiCaller } from '../auth/authenticator';
import { ApiAuthenticated, ApiStart } from '../common/api-responses';
import { jsonSchemaOf, ZodBody } from '../common/zod-body';
import { phoneContract, shared } from '../../workflows/contract';
import { explicitProviders, type PhoneStartRequest } from '../auth/client-settings';
import { PhoneService } from './phone.service';

/**
 * The body of `POST /v1/verifications/phone`: the workflow input without what only the API sets; `brand` may be left
 * to the client's default (CLIENTS_FILE).
 */
export const phoneStartSchema = phoneContract
  .schemas()
  .input.omit({ client: true, firstSendCounted: true, events: true })
  .extend({ brand: shared.brand().optional() });

/**
 * REST convenience over `phoneVerification`: its start. The routes on `/v1/verifications/:id` (state, check,
 * next-channel, resend, cancel) serve every kind and live in src/verifications/.
 */
@ApiTags('verifications')
@ApiAuthenticated()
@Controller('v1/verifications')
export class PhoneController {
  constructor(private readonly service: PhoneService) {}

  @Post('phone')
  @ApiOperation({
    summary: 'Start a phone verification (silent auth → SMS → voice by default)',
    description:
      'With `reference`, the ID is deterministic (`phone-<client>-<reference>`): a repeat of the same request returns ' +
      'the same verification, another request with that reference answers 409 `reference_conflict`. Every send ' +
      'passes the abuse guard (429 `rate_limited`, 422 `destination_not_allowed`). What the body leaves out (brand, ' +
      "channels, providers, messageTemplate, maxCodeAttempts, expirySeconds) takes the API client's settings " +
      '(CLIENTS_FILE); a channel or provider it does not allow, or more than it allows, answers 400 naming the field.',
  })
  @ApiBody({ schema: jsonSchemaOf(phoneStartSchema) })
  @ApiStart('The verification state', { guarded: true })
  startPhone(
    @Caller() caller: ApiCaller,
    @Body(new ZodBody(phoneStartSchema)) body: PhoneStartRequest,
    @Body() raw: unknown,
  ) {
    return this.service.start(caller.client, body, explicitProviders(raw));
  }
}
