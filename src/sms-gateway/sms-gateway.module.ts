import { Module, type DynamicModule } from '@nestjs/common';
import { AppConfig } from '../config/config';
import { VonageSmsWebhookController } from '../webhooks/vonage-sms-webhook.controller';
import { SmsGatewayController } from './sms-gateway.controller';
import { SmsGatewayService } from './sms-gateway.service';

/**
 * The inbound Auth0-compatible SMS gateway (`POST /sms-gateway`) and the Vonage SMS API delivery receipt webhook
 * (`POST /webhooks/vonage-sms`) that feeds its `smsDelivery` workflows. The Temporal client comes from the global
 * TemporalModule; config from the entry point.
 */
@Module({})
export class SmsGatewayModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: SmsGatewayModule,
      controllers: [SmsGatewayController, VonageSmsWebhookController],
      providers: [{ provide: AppConfig, useValue: config }, SmsGatewayService],
    };
  }
}
