import { BadRequestException, Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Caller } from '../auth/auth.guard';
import type { ApiCaller } from '../auth/authenticator';
import { ApiAuthenticated, ApiErrors, ApiStart } from '../common/api-responses';
import { jsonSchemaOf, ZodBody } from '../common/zod-body';
import { formatIssues, type PushVerificationInput, shared } from '../../workflows/contract';
import {
  approveFactorBodySchema,
  pushAccessTokenInputSchema,
  PushService,
  pushStartSchema,
  type ApproveFactorBody,
  type PushAccessTokenInput,
} from './push.service';

/**
 * REST convenience over push: Verify Push access tokens for devices (Twilio Verify Push), `pushVerification` starts and the
 * identity's enrollment, for the authenticated API client's own users. GET / cancel of a push verification go
 * through `/v1/verifications/:id` like every kind.
 */
@ApiTags('push')
@ApiAuthenticated()
@Controller('v1')
export class PushController {
  constructor(private readonly service: PushService) {}

  @Post('push/access-tokens')
  @ApiOperation({
    summary: 'Broker a Verify Push access token for a device (and follow its enrollment)',
    description:
      '`identity` is an immutable, non-PII id (8-64 dash-separated letters and digits, e.g. a UUID); phone numbers ' +
      'and e-mail addresses are refused. The device enrolls under the Twilio entity `<client>-<identity>` (returned ' +
      'as `identity`). A factor enrolled while the identity already has a verified one waits for approval.',
  })
  @ApiBody({ schema: jsonSchemaOf(pushAccessTokenInputSchema) })
  @ApiResponse({ status: 201, description: '{token, identity, serviceSid, factorType, ttl}' })
  @ApiResponse({ status: 400, description: 'Invalid identity; the message says why' })
  @ApiErrors(503)
  createAccessToken(
    @Caller() caller: ApiCaller,
    @Body(new ZodBody(pushAccessTokenInputSchema)) body: PushAccessTokenInput,
  ) {
    return this.service.createAccessToken(caller.client, body);
  }

  @Post('verifications/push')
  @ApiOperation({
    summary: 'Start a push verification (one Twilio challenge; resend, polling and phone fallback)',
    description:
      'With `reference`, the ID is deterministic (`push-<client>-<reference>`): a repeat of the same request returns ' +
      "the same verification. The challenge goes to the identity's newest approved factor (or `factorSid`, if approved).",
  })
  @ApiBody({ schema: jsonSchemaOf(pushStartSchema) })
  @ApiStart('The push verification state', { guarded: true })
  startPush(@Caller() caller: ApiCaller, @Body(new ZodBody(pushStartSchema)) body: PushVerificationInput) {
    return this.service.startPush(caller.client, body);
  }

  @Get('push/enrollments/:identity')
  @ApiOperation({
    summary: "The identity's push enrollment: every factor with its status (from its enrollment workflow, not Twilio)",
  })
  @ApiResponse({ status: 200, description: 'The enrollment state: {identity, status, verified, factorSid, factors}' })
  @ApiResponse({ status: 404, description: 'No enrollment for this identity' })
  @ApiErrors(400, 503)
  getEnrollment(@Caller() caller: ApiCaller, @Param('identity') identity: string) {
    return this.service.getEnrollment(caller.client, parseIdentity(identity));
  }

  @Post('push/enrollments/:identity/factors/:factorSid/approve')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Approve a factor that waits for approval (pending_approval) with a completed verification',
    description:
      '`verificationId`: a push verification of yours approved on another verified factor of this identity, or a ' +
      'phone verification of yours (step-up); it must have completed after the factor was created and approves one ' +
      'factor, once.',
  })
  @ApiBody({ schema: jsonSchemaOf(approveFactorBodySchema) })
  @ApiResponse({ status: 200, description: 'The enrollment state (the factor is now verified)' })
  @ApiResponse({
    status: 409,
    description: 'The factor does not wait for approval, or the verification does not qualify',
  })
  @ApiErrors(400, 404, 503)
  approveFactor(
    @Caller() caller: ApiCaller,
    @Param('identity') identity: string,
    @Param('factorSid') factorSid: string,
    @Body(new ZodBody(approveFactorBodySchema)) body: ApproveFactorBody,
  ) {
    return this.service.approveFactor(caller.client, parseIdentity(identity), factorSid, body);
  }
}

function parseIdentity(identity: string): string {
  const parsed = shared.pushIdentity().safeParse(identity);
  if (!parsed.success) throw new BadRequestException(formatIssues(parsed.error).replace(/^body/, 'identity'));
  return parsed.data;
}
