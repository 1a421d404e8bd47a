import { BadRequestException, Body, Controller, Headers, HttpCode, Post, Res } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { jsonSchemaOf } from '../common/zod-body';
import { formatIssues } from '../../workflows/contract';
import { smsGatewayRequestSchema } from './sms-gateway.schema';
import { RateLimitedException, SmsGatewayService, type SmsGatewayAnswer } from './sms-gateway.service';
import { Public } from '../auth/auth.guard';

/**
 * `POST /sms-gateway`: a drop-in Auth0 custom SMS gateway (Auth0's custom SMS gateway docs). Point a passwordless SMS connection's
 * `gateway_url` here with `gateway_authentication` (bearer, subject, audience, secret): see docs/sms-gateway.md.
 */
@ApiTags('sms-gateway')
// Not an API client route: authenticated by its own HS256 JWT (the Auth0 gateway's gateway_authentication).
@Public()
@Controller('sms-gateway')
export class SmsGatewayController {
  constructor(private readonly service: SmsGatewayService) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Auth0-compatible custom SMS gateway',
    description:
      'Bearer JWT (HS256, sub/aud as configured). 200 only once a provider accepted the message, within the budget.',
  })
  @ApiBody({ schema: jsonSchemaOf(smsGatewayRequestSchema) })
  @ApiResponse({ status: 200, description: 'A provider accepted the message' })
  @ApiResponse({ status: 400, description: 'Invalid body; the message names each field' })
  @ApiResponse({ status: 401, description: 'Missing, bad, expired or wrong-audience token' })
  @ApiResponse({ status: 429, description: 'Rate limit per recipient or per client IP (Retry-After)' })
  @ApiResponse({ status: 502, description: 'Every provider failed' })
  @ApiResponse({ status: 504, description: 'No provider accepted the message within the budget' })
  async receive(
    @Headers('authorization') authorization: string | undefined,
    @Body() body: unknown,
    @Res({ passthrough: true }) res: Response,
  ): Promise<SmsGatewayAnswer> {
    // Authentication first: an unauthenticated caller learns nothing about what a valid body looks like.
    this.service.authenticate(authorization);
    const parsed = smsGatewayRequestSchema.safeParse(body ?? {});
    if (!parsed.success) throw new BadRequestException(formatIssues(parsed.error));
    try {
      return await this.service.deliver(parsed.data);
    } catch (err) {
      if (err instanceof RateLimitedException) res.setHeader('Retry-After', String(err.retryAfterSeconds));
      throw err;
    }
  }
}
