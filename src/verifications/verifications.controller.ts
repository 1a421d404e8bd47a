import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors, ApiStart } from '../common/api-responses';
import { ApiIdempotencyKey, IdempotencyKey } from '../common/idempotency-key';
import { jsonSchemaOf, ZodBody } from '../common/zod-body';
import {
  cancelInputSchema,
  checkCodeInputSchema,
  phoneVerificationInputSchema,
  type CancelInput,
  type CheckCodeInput,
  type PhoneVerificationInput,
} from '../../workflows/definitions';
import { VerificationsService } from './verifications.service';

/** REST convenience over the Temporal contract (workflow `phoneVerification`, updates, `getState`). */
@ApiTags('verifications')
@Controller('v1/verifications')
export class VerificationsController {
  constructor(private readonly service: VerificationsService) {}

  @Post('phone')
  @ApiOperation({
    summary: 'Start a phone verification (silent auth → SMS → voice by default)',
    description:
      'With `reference`, the ID is deterministic (`phone-<reference>`) and a repeated start returns the same verification.',
  })
  @ApiBody({ schema: jsonSchemaOf(phoneVerificationInputSchema) })
  @ApiStart('The verification state')
  startPhone(@Body(new ZodBody(phoneVerificationInputSchema)) body: PhoneVerificationInput) {
    return this.service.startPhone(body);
  }

  @Get(':id')
  @ApiOperation({ summary: 'The state of a verification' })
  @ApiResponse({ status: 200, description: 'The verification state' })
  @ApiResponse({ status: 404, description: 'Unknown verification' })
  @ApiErrors(503)
  get(@Param('id') id: string) {
    return this.service.get(id);
  }

  @Post(':id/check')
  @HttpCode(200)
  @ApiOperation({ summary: 'Check a code (OTP, or silent-auth code with its requestId)' })
  @ApiBody({ schema: jsonSchemaOf(checkCodeInputSchema) })
  @ApiResponse({ status: 200, description: '{status: completed|invalid_code|failed|expired, attemptsLeft}' })
  @ApiResponse({ status: 409, description: 'The verification is no longer live' })
  @ApiErrors(400, 404, 503)
  @ApiIdempotencyKey()
  check(
    @Param('id') id: string,
    @Body(new ZodBody(checkCodeInputSchema)) body: CheckCodeInput,
    @IdempotencyKey() key?: string,
  ) {
    return this.service.check(id, body, key);
  }

  @Post(':id/next-channel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Give up on the current channel and move to the next one' })
  @ApiResponse({ status: 200, description: 'The verification state' })
  @ApiErrors(400, 404, 409, 503)
  @ApiIdempotencyKey()
  nextChannel(@Param('id') id: string, @IdempotencyKey() key?: string) {
    return this.service.nextChannel(id, key);
  }

  @Post(':id/resend')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Send a new code on the current channel (sms_gateway channels); the previous code stops working',
  })
  @ApiResponse({ status: 200, description: 'The verification state (a new code was sent)' })
  @ApiResponse({ status: 409, description: 'No code of ours on this channel, no resends left, or no longer live' })
  @ApiErrors(400, 404, 503)
  @ApiIdempotencyKey()
  resend(@Param('id') id: string, @IdempotencyKey() key?: string) {
    return this.service.resend(id, key);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a live verification' })
  @ApiResponse({ status: 200, description: 'The verification state (cancelled)' })
  @ApiErrors(400, 404, 409, 503)
  @ApiBody({ schema: jsonSchemaOf(cancelInputSchema), required: false })
  @ApiIdempotencyKey()
  cancel(
    @Param('id') id: string,
    @Body(new ZodBody(cancelInputSchema)) body: CancelInput,
    @IdempotencyKey() key?: string,
  ) {
    return this.service.cancel(id, body, key);
  }
}
