import { BadRequestException, Body, Controller, Get, Param, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors, ApiStart } from '../common/api-responses';
import { jsonSchemaOf, ZodBody } from '../common/zod-body';
import {
  formatIssues,
  pushIdentitySchema,
  pushVerificationInputSchema,
  type PushVerificationInput,
} from '../../workflows/definitions';
import { pushAccessTokenInputSchema, PushService, type PushAccessTokenInput } from './push.service';

/**
 * REST convenience over push: Verify Push access tokens for devices (seed 002), `pushVerification` starts and the
 * identity's enrollment. GET / cancel of a push verification go through `/v1/verifications/:id` like every kind.
 */
@ApiTags('push')
@Controller('v1')
export class PushController {
  constructor(private readonly service: PushService) {}

  @Post('push/access-tokens')
  @ApiOperation({
    summary: 'Broker a Verify Push access token for a device (and follow its enrollment)',
    description:
      '`identity` is an immutable, non-PII id (8-64 dash-separated letters and digits, e.g. a UUID); phone numbers ' +
      'and e-mail addresses are refused. Returns the token, the identity and the Verify Service SID.',
  })
  @ApiBody({ schema: jsonSchemaOf(pushAccessTokenInputSchema) })
  @ApiResponse({ status: 201, description: '{token, identity, serviceSid, factorType, ttl}' })
  @ApiResponse({ status: 400, description: 'Invalid identity; the message says why' })
  @ApiErrors(503)
  createAccessToken(@Body(new ZodBody(pushAccessTokenInputSchema)) body: PushAccessTokenInput) {
    return this.service.createAccessToken(body);
  }

  @Post('verifications/push')
  @ApiOperation({
    summary: 'Start a push verification (one Twilio challenge; resend, polling and phone fallback)',
    description:
      'With `reference`, the ID is deterministic (`push-<reference>`) and a repeated start returns the same verification.',
  })
  @ApiBody({ schema: jsonSchemaOf(pushVerificationInputSchema) })
  @ApiStart('The push verification state')
  startPush(@Body(new ZodBody(pushVerificationInputSchema)) body: PushVerificationInput) {
    return this.service.startPush(body);
  }

  @Get('push/enrollments/:identity')
  @ApiOperation({ summary: "The identity's verified push factor (from its enrollment workflow, not from Twilio)" })
  @ApiResponse({ status: 200, description: 'The enrollment state: {identity, status, factorSid, …}' })
  @ApiResponse({ status: 404, description: 'The identity has no verified push factor' })
  @ApiErrors(400, 503)
  getEnrollment(@Param('identity') identity: string) {
    const parsed = pushIdentitySchema.safeParse(identity);
    if (!parsed.success) throw new BadRequestException(formatIssues(parsed.error).replace(/^body/, 'identity'));
    return this.service.getEnrollment(parsed.data);
  }
}
