import { Body, Controller, Get, Header, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Caller } from '../auth/auth.guard';
import type { ApiCaller } from '../auth/authenticator';
import { ApiAuthenticated, ApiErrors, ApiStart } from '../common/api-responses';
import { jsonSchemaOf, ZodBody } from '../common/zod-body';
import { identityContract, type IdentityVerificationInput } from '../../workflows/contract';
import { IdentityService, identityStartSchema } from './identity.service';

/**
 * REST convenience over `identityVerification` (Stripe Identity). `GET /v1/verifications/:id` and `POST
 * /v1/verifications/:id/cancel` work for identity IDs through the generic controller.
 */
@ApiTags('verifications')
@ApiAuthenticated()
@Controller('v1/verifications')
export class IdentityController {
  constructor(private readonly service: IdentityService) {}

  @Post('identity')
  @ApiOperation({
    summary: 'Start an identity verification (Stripe Identity document or ID number check)',
    description:
      'The ID is `identity-<client>-<reference>` (reference = your user id, not PII); a repeat of the same request ' +
      'joins the running one, another request with that reference answers 409 `reference_conflict`.',
  })
  @ApiBody({ schema: jsonSchemaOf(identityStartSchema) })
  @ApiStart('The verification state (never the verified outputs)')
  start(@Caller() caller: ApiCaller, @Body(new ZodBody(identityStartSchema)) body: IdentityVerificationInput) {
    return this.service.start(caller.client, body);
  }

  @Post(':id/client-secret')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: "The session's client secret and URL for the user's browser (read from Stripe now, never stored)",
  })
  @ApiResponse({ status: 200, description: '{client_secret, url}' })
  @ApiResponse({ status: 409, description: 'The verification does not wait on the user (processing, or over)' })
  @ApiErrors(404, 503)
  clientSecret(@Caller() caller: ApiCaller, @Param('id') id: string) {
    return this.service.clientSecret(caller.client, id);
  }

  @Post(':id/redact')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Redact the Stripe session now (ends a live verification as cancelled / redacted)',
  })
  @ApiBody({ schema: jsonSchemaOf(identityContract.schemas().redactInput), required: false })
  @ApiResponse({ status: 200, description: 'Where the redaction stands: {status, workflowId, redactAt}' })
  @ApiErrors(400, 404, 409, 503)
  redact(
    @Caller() caller: ApiCaller,
    @Param('id') id: string,
    @Body(new ZodBody(identityContract.schemas().redactInput)) _body: unknown,
  ) {
    return this.service.redact(caller.client, id);
  }

  @Get(':id/redaction')
  @ApiOperation({ summary: "Where the redaction of the verification's Stripe session stands" })
  @ApiResponse({ status: 200, description: 'Where the redaction stands: {status, workflowId, redactAt}' })
  @ApiResponse({ status: 404, description: 'No redaction was started' })
  @ApiErrors(503)
  redaction(@Caller() caller: ApiCaller, @Param('id') id: string) {
    return this.service.redaction(caller.client, id);
  }
}
