import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Client } from '@temporalio/client';
import { Public } from '../auth/auth.guard';

/** Liveness and readiness in one: 200 when the Temporal frontend answers, 503 otherwise. */
@ApiTags('operations')
// Open by design (no API client credential): load balancers probe it.
@Public()
@Controller('health')
export class HealthController {
  constructor(private readonly client: Client) {}

  @Get()
  @ApiOperation({ summary: 'Health, including the Temporal connection' })
  async health() {
    try {
      await this.client.workflowService.getSystemInfo({});
      return { status: 'ok', temporal: 'up' };
    } catch {
      throw new ServiceUnavailableException({ status: 'error', temporal: 'down' });
    }
  }
}
