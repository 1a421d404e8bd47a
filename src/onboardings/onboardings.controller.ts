import { Body, Controller, Get, HttpCode, Injectable, NotFoundException, Param, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Client } from '@temporalio/client';
import { ApiErrors, ApiStart } from '../common/api-responses';
import { jsonSchemaOf, ZodBody } from '../common/zod-body';
import { AppConfig } from '../config/config';
import { firstState, toHttpError } from '../temporal/errors';
import {
  cancelInputSchema,
  cancelOnboarding,
  getOnboardingState,
  onboardingId,
  onboardingInputSchema,
  SA_KIND,
  SA_STATUS,
  type CancelInput,
  type OnboardingInput,
  type OnboardingState,
} from '../../workflows/definitions';
import { onboarding } from '../../workflows/onboarding';

const ID_PATTERN = /^onboarding-[A-Za-z0-9._:-]{1,34}$/;

/** REST convenience over the `onboarding` workflow: start (idempotent per reference), read, cancel. */
@Injectable()
export class OnboardingsService {
  constructor(
    private readonly client: Client,
    private readonly config: AppConfig,
  ) {}

  async start(input: OnboardingInput): Promise<OnboardingState> {
    const id = onboardingId(input.reference);
    try {
      const handle = await this.client.workflow.start(onboarding, {
        workflowId: id,
        taskQueue: this.config.taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
        typedSearchAttributes: [
          { key: SA_KIND, value: 'onboarding' },
          { key: SA_STATUS, value: 'pending' },
        ],
        staticSummary: `Onboarding of ${input.reference}: phone → identity${input.push ? ' → push' : ''}`,
      });
      return await firstState(this.client, handle, 'onboarding', (h) => h.query(getOnboardingState));
    } catch (err) {
      throw toHttpError(err, id);
    }
  }

  async get(id: string): Promise<OnboardingState> {
    if (!ID_PATTERN.test(id)) throw new NotFoundException(`onboarding ${id} not found`);
    try {
      return await this.client.workflow.getHandle(id).query(getOnboardingState);
    } catch (err) {
      throw toHttpError(err, id);
    }
  }

  async cancel(id: string, input: CancelInput): Promise<OnboardingState> {
    if (!ID_PATTERN.test(id)) throw new NotFoundException(`onboarding ${id} not found`);
    try {
      return await this.client.workflow.getHandle(id).executeUpdate(cancelOnboarding, { args: [input] });
    } catch (err) {
      throw toHttpError(err, id);
    }
  }
}

@ApiTags('onboardings')
@Controller('v1/onboardings')
export class OnboardingsController {
  constructor(private readonly service: OnboardingsService) {}

  @Post()
  @ApiOperation({ summary: 'Start an onboarding: phone verification, then identity (then push enrollment)' })
  @ApiBody({ schema: jsonSchemaOf(onboardingInputSchema) })
  @ApiStart('The onboarding state (repeat with the same reference: the same one)')
  start(@Body(new ZodBody(onboardingInputSchema)) body: OnboardingInput) {
    return this.service.start(body);
  }

  @Get(':id')
  @ApiOperation({ summary: 'The state of an onboarding: each step with its own workflow ID and status' })
  @ApiResponse({ status: 200, description: 'The onboarding state' })
  @ApiErrors(404, 503)
  get(@Param('id') id: string) {
    return this.service.get(id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel an onboarding and its running step' })
  @ApiResponse({ status: 200, description: 'The onboarding state (cancelled)' })
  @ApiErrors(400, 404, 409, 503)
  @ApiBody({ schema: jsonSchemaOf(cancelInputSchema), required: false })
  cancel(@Param('id') id: string, @Body(new ZodBody(cancelInputSchema)) body: CancelInput) {
    return this.service.cancel(id, body);
  }
}
