import { Module, type DynamicModule } from '@nestjs/common';
import type { Client } from '@temporalio/client';
import { AppConfig } from './config/config';
import { HealthController } from './health/health.controller';
import { TemporalModule } from './temporal/temporal.module';
import { VerificationsController } from './verifications/verifications.controller';
import { VerificationsService } from './verifications/verifications.service';
import { VonageWebhookController } from './webhooks/vonage-webhook.controller';

/** The API: REST over the contract, provider webhooks, health. Config and the Temporal client come from outside. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig, client: Client): DynamicModule {
    return {
      module: AppModule,
      imports: [TemporalModule.forClient(client)],
      controllers: [VerificationsController, VonageWebhookController, HealthController],
      providers: [{ provide: AppConfig, useValue: config }, VerificationsService],
    };
  }
}
