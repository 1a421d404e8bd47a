import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { activityInfo, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { DEFAULT_OTP_LENGTH, DEFAULT_OTP_TEMPLATE, FailureType } from '../workflows/definitions';
import type { SmsGateways } from './providers/sms-gateway';
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
  /** With `@@password@@` (required) and `@@brand@@`; default `Your @@brand@@ code is @@password@@`. */
  template?: string;
  codeLength?: number;
}

export interface OtpVerifyParams extends OtpBinding {
  /** The HMAC `otpSend` returned (hex). */
  hmac: string;
  code: string;
}

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

/** A numeric code from the CSPRNG (`crypto.randomInt`, no modulo bias). */
export function generateOtp(length: number): string {
  return Array.from({ length }, () => String(randomInt(10))).join('');
}

/** Fills Auth0-style macros: `@@password@@` → the code, `@@brand@@` → the brand. */
export function renderOtpMessage(template: string, code: string, brand: string): string {
  return template.replaceAll('@@brand@@', brand).replaceAll('@@password@@', code);
}

/**
 * Activities of our own OTP (phoneVerification channels served by an HTTP SMS gateway). The code exists only inside
 * `otpSend` (generated, rendered into the SMS, sent) and is never returned, logged or stored: the workflow gets its
 * keyed HMAC, and `otpVerify` recomputes the HMAC of a submitted code and compares in constant time. Both read the
 * workflow ID from the activity context, so a caller cannot bind a code to another verification.
 */
export const createOtpActivities = (deps: { smsGateways?: SmsGateways; otp?: OtpKey }) => {
  const key = () => requireDep(deps.otp, 'OTP key (OTP_HMAC_SECRET)').hmacSecret;
  const gateways = () => requireDep(deps.smsGateways, 'sms_gateway');
  return {
    /** Generates a code, sends it through the gateway and returns only its HMAC (a retry sends a fresh code). */
    async otpSend(params: OtpSendParams): Promise<{ hmac: string; gateway: string }> {
      const template = params.template ?? DEFAULT_OTP_TEMPLATE;
      if (!template.includes('@@password@@')) {
        throw ApplicationFailure.create({
          type: FailureType.InvalidInput,
          message: 'messageTemplate: must contain @@password@@',
          nonRetryable: true,
        });
      }
      const code = generateOtp(params.codeLength ?? DEFAULT_OTP_LENGTH);
      const workflowId = boundWorkflowId();
      const sent = await gateways().send(params.gateway, {
        recipient: params.to,
        body: renderOtpMessage(template, code, params.brand),
        sender: params.brand,
      });
      log.info('OTP sent through SMS gateway', { gateway: sent.gateway, channelIndex: params.channelIndex });
      return { hmac: otpHmac(key(), workflowId, params, code), gateway: sent.gateway };
    },

    /** True when `code` is the one `otpSend` sent for this binding (constant-time comparison of the HMACs). */
    async otpVerify(params: OtpVerifyParams): Promise<boolean> {
      const workflowId = boundWorkflowId();
      const expected = Buffer.from(params.hmac, 'hex');
      const given = Buffer.from(otpHmac(key(), workflowId, params, params.code), 'hex');
      return expected.length === given.length && timingSafeEqual(expected, given);
    },
  };
};
