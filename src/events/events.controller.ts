import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Caller } from '../auth/auth.guard';
import type { ApiCaller } from '../auth/authenticator';
import { ApiAuthenticated, ApiErrors } from '../common/api-responses';
import { EventsService } from './events.service';

/**
 * The outbound events of the caller's verifications (Standard Webhooks, sent to the events endpoint of its
 * CLIENTS_FILE entry): each with its delivery status, and redelivery.
 */
@ApiTags('events')
@ApiAuthenticated()
@Controller('v1/events')
export class EventsController {
  constructor(private readonly service: EventsService) {}

  @Get()
  @ApiOperation({ summary: "A verification's outbound events with their delivery status" })
  @ApiQuery({ name: 'verificationId', required: true, description: 'A verification or onboarding ID of yours' })
  @ApiResponse({
    status: 200,
    description: '{verificationId, events: [{id, type, status: pending|delivered|parked|gone, attempts, event}]}',
  })
  @ApiErrors(400, 404, 503)
  list(@Caller() caller: ApiCaller, @Query('verificationId') verificationId?: string) {
    return this.service.list(caller.client, typeof verificationId === 'string' ? verificationId : undefined);
  }

  @Post(':id/redeliver')
  @HttpCode(202)
  @ApiOperation({ summary: 'Deliver an event again, with the same webhook-id' })
  @ApiResponse({ status: 202, description: 'The event record, queued for delivery (status pending)' })
  @ApiResponse({ status: 409, description: 'Its deliveries have ended (3 days after the last event)' })
  @ApiErrors(404, 503)
  redeliver(@Caller() caller: ApiCaller, @Param('id') id: string) {
    return this.service.redeliver(caller.client, id);
  }
}
