import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import type { Client } from '@temporalio/client';
import { ApiSecurity } from './auth/api-security';
import { ApiAuthGuard } from './auth/auth.guard';
import { ClientSettings } from './auth/client-settings';
import { Authenticator } from './auth/authenticator';
import { CodecModule } from './codec/codec.module';
import { RetryAfterInterceptor } from './common/http-errors';
import { Metrics, MetricsModule } from './metrics/metrics';
import { AppConfig } from './config/config';
import { EncryptionCodec } from './temporal/codec';
import { HealthController } from './health/health.controller';
import { TemporalModule } from './temporal/temporal.module';
import { PhoneController } from './phone/phone.controller';
import { PhoneService } from './phone/phone.service';
import { PushController } from './push/push.controller';
import { PushService } from './push/push.service';
import { IdentityController } from './identity/identity.controller';
import { IdentityService } from './identity/identity.service';
import { EventsController } from './events/events.controller';
import { EventsService } from './events/events.service';
import { OnboardingController } from './onboarding/onboarding.controller';
import { OnboardingService } from './onboarding/onboarding.service';
import { VerificationsController } from './verifications/verifications.controller';
import { VerificationsService } from './verifications/verifications.service';
import { StripeWebhookController } from './webhooks/stripe-webhook.controller';
import { TwilioWebhookController } from './webhooks/twilio-webhook.controller';
import { VonageWebhookController } from './webhooks/vonage-webhook.controller';
import { SmsGatewayModule } from './sms-gateway/sms-gateway.module';

/**
 * The API: REST over the contract (every route authenticated by the global ApiAuthGuard unless @Public), provider
 * webhooks, health. Config, the Temporal client and the trust-boundary services come from outside.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig, client: Client, security: ApiSecurity, metrics: Metrics): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TemporalModule.forClient(client),
        MetricsModule.forRoot(metrics),
        CodecModule.forRoot({
          codec: new EncryptionCodec(config.codec.keys),
          token: config.codec.token,
          allowedOrigins: config.codec.allowedOrigins,
          allowUnauthenticated: config.codec.allowUnauthenticated,
        }),
        SmsGatewayModule.forRoot(config),
      ],
      controllers: [
        PhoneController,
        VerificationsController,
        VonageWebhookController,
        HealthController,
        PushController,
        TwilioWebhookController,
        IdentityController,
        StripeWebhookController,
        OnboardingController,
        EventsController,
      ],
      providers: [
        { provide: AppConfig, useValue: config },
        { provide: ApiSecurity, useValue: security },
        {
          provide: ClientSettings,
          useValue: new ClientSettings(config.auth.clients, config.twilio ? [] : ['twilio']),
        },
        { provide: Authenticator, useValue: new Authenticator(config.auth) },
        { provide: APP_GUARD, useClass: ApiAuthGuard },
        { provide: APP_INTERCEPTOR, useClass: RetryAfterInterceptor },
        PhoneService,
        VerificationsService,
        PushService,
        IdentityService,
        OnboardingService,
        EventsService,
      ],
    };
  }
}
