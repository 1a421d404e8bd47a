import { Module, type DynamicModule } from '@nestjs/common';
import type { Client } from '@temporalio/client';
import { CodecModule } from './codec/codec.module';
import { MetricsModule } from './metrics/metrics';
import { OnboardingsController, OnboardingsService } from './onboardings/onboardings.controller';
import { AppConfig } from './config/config';
import { EncryptionCodec } from './temporal/codec';
import { HealthController } from './health/health.controller';
import { TemporalModule } from './temporal/temporal.module';
import { VerificationsController } from './verifications/verifications.controller';
import { VerificationsService } from './verifications/verifications.service';
import { VonageWebhookController } from './webhooks/vonage-webhook.controller';
import { PushController } from './verifications/push.controller';
import { PushService } from './verifications/push.service';
import { TwilioWebhookController } from './webhooks/twilio-webhook.controller';
import { IdentityController } from './verifications/identity.controller';
import { IdentityService } from './verifications/identity.service';
import { StripeWebhookController } from './webhooks/stripe-webhook.controller';
import { SmsGatewayModule } from './sms-gateway/sms-gateway.module';

/** The API: REST over the contract, provider webhooks, health. Config and the Temporal client come from outside. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig, client: Client): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TemporalModule.forClient(client),
        MetricsModule,
        CodecModule.forRoot({
          codec: new EncryptionCodec(config.codec.keys),
          token: config.codec.token,
          allowedOrigins: config.codec.allowedOrigins,
          allowUnauthenticated: config.codec.allowUnauthenticated,
        }),
        SmsGatewayModule.forRoot(config),
      ],
      controllers: [
        VerificationsController,
        VonageWebhookController,
        HealthController,
        PushController,
        TwilioWebhookController,
        IdentityController,
        StripeWebhookController,
        OnboardingsController,
      ],
      providers: [
        { provide: AppConfig, useValue: config },
        VerificationsService,
        PushService,
        IdentityService,
        OnboardingsService,
      ],
    };
  }
}
