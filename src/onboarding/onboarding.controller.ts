import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Caller } from '../auth/auth.guard';
import type { ApiCaller } from '../auth/authenticator';
import { ApiAuthenticated, ApiErrors, ApiStart } from '../common/api-responses';
import { jsonSchemaOf, ZodBody } from '../common/zod-body';
import { type CancelInput, shared } from '../../workflows/contract';
import { explicitProviders } from '../auth/client-settings';
import { onboardingStartSchema, OnboardingService, type OnboardingStartRequest } from './onboarding.service';

/** REST over the `onboarding` workflow: phone → identity (→ push), each a child workflow. */
@ApiTags('onboardings')
@ApiAuthenticated()
@Controller('v1/onboardings')
export class OnboardingController {
  constructor(private readonly service: OnboardingService) {}

  @Post()
  @ApiOperation({ summary: 'Start an onboarding: phone verification, then identity (then push enrollment)' })
  @ApiBody({ schema: jsonSchemaOf(onboardingStartSchema) })
  @ApiStart('The onboarding state (repeat with the same reference and body: the same one)', { guarded: true })
  start(
    @Caller() caller: ApiCaller,
    @Body(new ZodBody(onboardingStartSchema)) body: OnboardingStartRequest,
    @Body() raw: unknown,
  ) {
    return this.service.start(caller.client, body, explicitProviders((raw as { phone?: unknown } | undefined)?.phone));
  }

  @Get(':id')
  @ApiOperation({ summary: 'The state of an onboarding: each step with its own workflow ID and status' })
  @ApiResponse({ status: 200, description: 'The onboarding state' })
  @ApiErrors(404, 503)
  get(@Caller() caller: ApiCaller, @Param('id') id: string) {
    return this.service.get(caller.client, id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel an onboarding and its running step' })
  @ApiResponse({ status: 200, description: 'The onboarding state (cancelled)' })
  @ApiErrors(400, 404, 409, 503)
  @ApiBody({ schema: jsonSchemaOf(shared.cancelInput()), required: false })
  cancel(
    @Caller() caller: ApiCaller,
    @Param('id') id: string,
    @Body(new ZodBody(shared.cancelInput())) body: CancelInput,
  ) {
    return this.service.cancel(caller.client, id, body);
  }
}
