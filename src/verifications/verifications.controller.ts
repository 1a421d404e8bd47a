import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiAuthenticated, ApiErrors } from '../common/api-responses';
import { Caller } from '../auth/auth.guard';
import type { ApiCaller } from '../auth/authenticator';
import { ApiIdempotencyKey, IdempotencyKey } from '../common/idempotency-key';
import { jsonSchemaOf, ZodBody } from '../common/zod-body';
import { type CancelInput, type CheckCodeInput, phoneContract, shared } from '../../workflows/contract';
import { VerificationsService } from './verifications.service';

/**
 * REST convenience over the messages every verification kind answers under the same wire names (`getState`,
 * `cancel`) and phone's updates (`checkCode`, `nextChannel`, `resend`), addressed by verification ID, for the
 * authenticated API client on its own verifications. Starts are per kind (src/phone/, src/push/, src/identity/).
 */
@ApiTags('verifications')
@ApiAuthenticated()
@Controller('v1/verifications')
export class VerificationsController {
  constructor(private readonly service: VerificationsService) {}

  @Get(':id')
  @ApiOperation({ summary: 'The state of a verification' })
  @ApiResponse({ status: 200, description: 'The verification state' })
  @ApiResponse({ status: 404, description: 'Unknown verification' })
  @ApiErrors(503)
  get(@Caller() caller: ApiCaller, @Param('id') id: string) {
    return this.service.get(caller.client, id);
  }

  @Post(':id/check')
  @HttpCode(200)
  @ApiOperation({ summary: 'Check a code (OTP, or silent-auth code with its requestId)' })
  @ApiBody({ schema: jsonSchemaOf(phoneContract.schemas().checkCodeInput) })
  @ApiResponse({ status: 200, description: '{status: completed|invalid_code|failed|expired, attemptsLeft}' })
  @ApiResponse({ status: 409, description: 'The verification is no longer live' })
  @ApiErrors(400, 404, 429, 503)
  @ApiIdempotencyKey()
  check(
    @Caller() caller: ApiCaller,
    @Param('id') id: string,
    @Body(new ZodBody(phoneContract.schemas().checkCodeInput)) body: CheckCodeInput,
    @IdempotencyKey() key?: string,
  ) {
    return this.service.check(caller.client, id, body, key);
  }

  @Post(':id/next-channel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Give up on the current channel and move to the next one' })
  @ApiResponse({ status: 200, description: 'The verification state' })
  @ApiErrors(400, 404, 409, 422, 429, 503)
  @ApiIdempotencyKey()
  nextChannel(@Caller() caller: ApiCaller, @Param('id') id: string, @IdempotencyKey() key?: string) {
    return this.service.nextChannel(caller.client, id, key);
  }

  @Post(':id/resend')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Send a new code on the current channel (sms_gateway channels); the previous code stops working',
  })
  @ApiResponse({ status: 200, description: 'The verification state (a new code was sent)' })
  @ApiResponse({ status: 409, description: 'No code of ours on this channel, no resends left, or no longer live' })
  @ApiErrors(400, 404, 422, 429, 503)
  @ApiIdempotencyKey()
  resend(@Caller() caller: ApiCaller, @Param('id') id: string, @IdempotencyKey() key?: string) {
    return this.service.resend(caller.client, id, key);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a live verification' })
  @ApiResponse({ status: 200, description: 'The verification state (cancelled)' })
  @ApiErrors(400, 404, 409, 503)
  @ApiBody({ schema: jsonSchemaOf(shared.cancelInput()), required: false })
  @ApiIdempotencyKey()
  cancel(
    @Caller() caller: ApiCaller,
    @Param('id') id: string,
    @Body(new ZodBody(shared.cancelInput())) body: CancelInput,
    @IdempotencyKey() key?: string,
  ) {
    return this.service.cancel(caller.client, id, body, key);
  }
}
