import { createHmac, timingSafeEqual } from 'node:crypto';
import { activityInfo, heartbeat, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { GuardParams } from '../workflows/common';
import { FailureType, phoneContract } from '../workflows/contract';
import type { AbuseGuard } from './abuse-guard';
import { createMessageTemplates, type MessageTemplates } from './message-templates';
import { countSend, guardCheck } from './phone';
import type { SmsGateways } from '../providers/sms-gateway/http-gateways';
import { requireDep } from './require-dep';

/** The key our OTP HMACs are made with (OTP_HMAC_SECRET): it never enters workflow history. */
export interface OtpKey {
  hmacSecret: Buffer;
}

/** What binds one code: the workflow, the channel and the issue number (every send or resend is a new issue). */
export interface OtpBinding {
  channelIndex: number;
  issue: number;
}

export interface OtpSendParams extends OtpBinding {
  /** The configured gateway's name (default: the first configured one). */
  gateway?: string;
  to: string;
  brand: string;
  /** The name of a configured template (the client's, else the gateway's; default `default`). */
  templateName?: string;
  codeLength?: number;
  /** The abuse guard's view of this send (absent: not counted, e.g. runs from before the guard). */
  guard?: GuardParams;
}

export interface OtpVerifyParams extends OtpBinding {
  /** The HMAC `otpSend` returned (hex). */
  hmac: string;
  code: string;
  guard?: GuardParams;
}

/** Only `default`, for workers configured without templates of their own. */
const BUILT_IN_TEMPLATES = createMessageTemplates({});

/** How often a send heartbeats while it waits on the gateway (the workflow gives it a 10 s heartbeat timeout). */
const HEARTBEAT_EVERY_MS = 2_000;

/**
 * HMAC-SHA256 of a code, keyed with OTP_HMAC_SECRET and bound to the workflow ID, the channel index and the issue
 * number: the same code of another verification, channel or resend never matches, and history (which holds only
 * this HMAC) cannot be brute-forced offline without the key.
 */
export function otpHmac(secret: Buffer, workflowId: string, binding: OtpBinding, code: string): string {
  return createHmac('sha256', secret)
    .update(`verifyflow-otp/v1\n${workflowId}\n${binding.channelIndex}\n${binding.issue}\n${code}`)
    .digest('hex');
}

/** The ID of the workflow that runs this activity: what every code is bound to. */
function boundWorkflowId(): string {
  const workflowId = activityInfo().workflowExecution?.workflowId;
  if (!workflowId) {
    throw ApplicationFailure.create({
      type: FailureType.InvalidInput,
      message: 'OTP activities run only inside a workflow',
      nonRetryable: true,
    });
  }
  return workflowId;
}

/**
 * The code of one issue: `length` digits derived from HMAC-SHA256 under OTP_HMAC_SECRET of the workflow ID, the channel
 * and the issue number. Unpredictable without the key, and the same for every attempt of one send, so a send retried
 * after a worker died mid-send delivers the code the user may already have, and that code keeps working. (The 256-bit
 * HMAC reduced modulo 10^length has a bias below 10^-60.)
 */
export function deriveOtp(secret: Buffer, workflowId: string, binding: OtpBinding, length: number): string {
  const mac = createHmac('sha256', secret)
    .update(`verifyflow-otp-code/v1\n${workflowId}\n${binding.channelIndex}\n${binding.issue}`)
    .digest('hex');
  return (BigInt(`0x${mac}`) % 10n ** BigInt(length)).toString().padStart(length, '0');
}

/** Fills Auth0-style macros: `@@password@@` → the code, `@@brand@@` → the brand. */
export function renderOtpMessage(template: string, code: string, brand: string): string {
  return template.replaceAll('@@brand@@', brand).replaceAll('@@password@@', code);
}

/**
 * Activities of our own OTP (phoneVerification channels served by an HTTP SMS gateway). The code exists only inside
 * `otpSend` (derived, rendered into the SMS, sent) and is never returned, logged or stored: the workflow gets its
 * keyed HMAC, and `otpVerify` recomputes the HMAC of a submitted code and compares in constant time. Both read the
 * workflow ID from the activity context, so a caller cannot bind a code to another verification. Sends and checks
 * pass the abuse guard.
 */
export const createOtpActivities = (deps: {
  smsGateways?: SmsGateways;
  otp?: OtpKey;
  guard?: AbuseGuard;
  templates?: MessageTemplates;
}) => {
  const key = () => requireDep(deps.otp, 'OTP key (OTP_HMAC_SECRET)').hmacSecret;
  const gateways = () => requireDep(deps.smsGateways, 'sms_gateway');
  return {
    /**
     * Derives the issue's code, sends it through the gateway and returns only its HMAC. Every attempt of one send
     * sends the same code, and heartbeats while it waits, so a worker dying mid-send is noticed within the heartbeat
     * timeout and the retry repeats the message the user may already have.
     */
    async otpSend(params: OtpSendParams): Promise<{ hmac: string; gateway: string }> {
      const gateway = params.gateway ?? gateways().names()[0];
      const name = params.templateName ?? phoneContract.defaults.otp.templateName;
      const template = (deps.templates ?? BUILT_IN_TEMPLATES).resolve(params.guard?.client, gateway, name);
      if (!template?.includes('@@password@@')) {
        throw ApplicationFailure.create({
          type: FailureType.InvalidInput,
          message: `messageTemplate: no template named ${name} is configured for this client or gateway ${gateway}`,
          nonRetryable: true,
        });
      }
      const workflowId = boundWorkflowId();
      const code = deriveOtp(key(), workflowId, params, params.codeLength ?? phoneContract.defaults.otp.length);
      await countSend(deps.guard, params.guard);
      const beat = setInterval(() => heartbeat(), HEARTBEAT_EVERY_MS);
      let sent;
      try {
        sent = await gateways().send(gateway, {
          recipient: params.to,
          body: renderOtpMessage(template, code, params.brand),
          sender: params.brand,
        });
      } finally {
        clearInterval(beat);
      }
      log.info('OTP sent through SMS gateway', { gateway: sent.gateway, channelIndex: params.channelIndex });
      return { hmac: otpHmac(key(), workflowId, params, code), gateway: sent.gateway };
    },

    /** True when `code` is the one `otpSend` sent for this binding (constant-time comparison of the HMACs). */
    async otpVerify(params: OtpVerifyParams): Promise<boolean> {
      const settle = await guardCheck(deps.guard, params.guard);
      const workflowId = boundWorkflowId();
      const expected = Buffer.from(params.hmac, 'hex');
      const given = Buffer.from(otpHmac(key(), workflowId, params, params.code), 'hex');
      const matches = expected.length === given.length && timingSafeEqual(expected, given);
      await settle(!matches);
      return matches;
    },
  };
};
