import { log } from '@temporalio/activity';
import type { SmsRequestInfo } from '../workflows/contract';
import type { SmsGateways } from '../providers/sms-gateway/http-gateways';
import type { VonageSms } from '../providers/vonage/sms';
import { requireDep } from './require-dep';

export interface SmsGatewaySendParams {
  gateway?: string;
  recipient: string;
  body: string;
  sender: string;
  req?: SmsRequestInfo;
}

export interface VonageSmsSendParams {
  to: string;
  from: string;
  text: string;
  clientRef?: string;
}

/**
 * Activities of `smsDelivery`: one send per provider route, classified by the adapters (retryable outages,
 * non-retryable rejections). Recipients, texts and request info are never logged.
 */
export const createSmsDeliveryActivities = (deps: { smsGateways?: SmsGateways; vonageSms?: VonageSms }) => ({
  /** Sends the message through a configured HTTP SMS gateway; resolves once it answered 2xx. */
  async smsGatewaySend(params: SmsGatewaySendParams): Promise<{ gateway: string }> {
    const sent = await requireDep(deps.smsGateways, 'sms_gateway').send(params.gateway, {
      recipient: params.recipient,
      body: params.body,
      sender: params.sender,
      req: params.req,
    });
    log.info('SMS accepted by gateway', { gateway: sent.gateway, status: sent.status });
    return { gateway: sent.gateway };
  },

  /** Sends the message with the Vonage SMS API (delivery receipts requested); returns the parts' message-ids. */
  async vonageSmsSend(params: VonageSmsSendParams): Promise<{ messageIds: string[] }> {
    const sent = await requireDep(deps.vonageSms, 'vonage SMS API').send(params);
    log.info('SMS accepted by Vonage', { parts: sent.messageIds.length });
    return sent;
  },
});
