import {
  BadGatewayException,
  HttpException,
  Injectable,
  NotFoundException,
  NotImplementedException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { TwilioPushAdapter, type TwilioPush } from '../../activities/providers/twilio-push';
import { AppConfig } from '../config/config';
import { firstState, isUnavailable, toHttpError } from '../temporal/errors';
import {
  DEFAULT_PUSH_EXPIRY_SECONDS,
  DEFAULT_PUSH_POLL_INTERVAL_SECONDS,
  enrollmentRequested,
  FailureType,
  getEnrollmentState,
  getPushState,
  pushEnrollmentId,
  pushIdentitySchema,
  pushVerificationId,
  SA_KIND,
  SA_PROVIDER,
  SA_STATUS,
  type PushEnrollmentState,
  type PushVerificationInput,
  type PushVerificationState,
} from '../../workflows/definitions';
import { pushEnrollment } from '../../workflows/push-enrollment';
import { pushVerification } from '../../workflows/push-verification';

/** Body of `POST /v1/push/access-tokens` (REST only: brokering a token is not a workflow operation). */
export const pushAccessTokenInputSchema = z.strictObject({
  identity: pushIdentitySchema,
  /** How long the enrollment waits for factor.created → factor.verified (default 600 s). */
  enrollmentTimeoutSeconds: z.number().int().min(1).max(86_400).optional(),
});
export type PushAccessTokenInput = z.infer<typeof pushAccessTokenInputSchema>;

/** What the device receives (seed 002: the access token, the identity and the Verify Service SID). */
export interface PushAccessTokenResponse {
  token: string;
  identity: string;
  serviceSid: string;
  factorType: 'push';
  ttl?: number;
}

/**
 * Push over REST: brokers Verify Push access tokens (opening the identity's `pushEnrollment`), starts
 * `pushVerification`, and answers whether an identity has a verified factor from its `pushEnrollment` — never asking
 * Twilio. Holds no state.
 */
@Injectable()
export class PushService {
  private readonly twilio?: TwilioPush;

  constructor(
    private readonly client: Client,
    private readonly config: AppConfig,
  ) {
    this.twilio = config.twilio ? new TwilioPushAdapter(config.twilio) : undefined;
  }

  /** Opens (or extends) the identity's enrollment window, then brokers an access token for its device. */
  async createAccessToken(input: PushAccessTokenInput): Promise<PushAccessTokenResponse> {
    if (!this.twilio) throw new NotImplementedException('push is not configured on this server (TWILIO_ACCOUNT_SID)');
    const workflowId = pushEnrollmentId(input.identity);
    try {
      // First the enrollment, so the factor webhooks that follow the token find it.
      await this.client.workflow.signalWithStart(pushEnrollment, {
        workflowId,
        taskQueue: this.config.taskQueue,
        args: [{ identity: input.identity }],
        signal: enrollmentRequested,
        signalArgs: [{ timeoutSeconds: input.enrollmentTimeoutSeconds }],
        typedSearchAttributes: [
          { key: SA_KIND, value: 'push_enrollment' },
          { key: SA_PROVIDER, value: 'twilio' },
        ],
        staticSummary: 'Push enrollment (Twilio Verify): follows factor.created → factor.verified',
      });
    } catch (err) {
      throw toHttpError(err, workflowId);
    }
    try {
      const token = await this.twilio.createAccessToken(input.identity);
      return {
        token: token.token,
        identity: token.identity,
        serviceSid: token.serviceSid,
        factorType: 'push',
        ttl: token.ttl,
      };
    } catch (err) {
      throw providerHttpError(err);
    }
  }

  /** Starts (or, with a known reference, joins) a push verification and returns its state. */
  async startPush(input: PushVerificationInput): Promise<PushVerificationState> {
    const id = pushVerificationId(input.reference);
    const fallback = input.fallback ? ` → ${input.fallback.brand} phone fallback` : '';
    try {
      const handle = await this.client.workflow.start(pushVerification, {
        workflowId: id,
        taskQueue: this.config.taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
        typedSearchAttributes: [
          { key: SA_KIND, value: 'push' },
          { key: SA_STATUS, value: 'pending' },
          { key: SA_PROVIDER, value: 'twilio' },
        ],
        // No identity, message or phone number in summaries: they are stored in clear.
        staticSummary: `Push verification via Twilio Verify${fallback}`,
        staticDetails: [
          `expiry: ${input.expirySeconds ?? DEFAULT_PUSH_EXPIRY_SECONDS} s`,
          `poll every ${input.pollIntervalSeconds ?? DEFAULT_PUSH_POLL_INTERVAL_SECONDS} s`,
          input.resendAfterSeconds ? `resend after ${input.resendAfterSeconds} s` : 'no resend',
          input.fallback ? `fallback: phone${input.fallbackOnDeny ? ' (also on deny)' : ''}` : 'no fallback',
          ...(input.reference ? [`reference: ${input.reference}`] : []),
        ].join('; '),
      });
      return await firstState(this.client, handle, 'push', (h) => h.query(getPushState));
    } catch (err) {
      throw toHttpError(err, id);
    }
  }

  /** The identity's verified factor, from its `pushEnrollment`; 404 when it has none. */
  async getEnrollment(identity: string): Promise<PushEnrollmentState> {
    const id = pushEnrollmentId(identity);
    let state: PushEnrollmentState;
    try {
      state = await this.client.workflow.getHandle(id).query(getEnrollmentState);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new NotFoundException(`no push enrollment for this identity`);
      throw toHttpError(err, id);
    }
    if (!state.verified) throw new NotFoundException(`no verified push factor for this identity (${state.status})`);
    return state;
  }
}

/** Maps a classified Twilio failure to HTTP: outages 503 (retry), anything else from Twilio 502. */
function providerHttpError(err: unknown): Error {
  if (err instanceof HttpException) return err;
  if (err instanceof ApplicationFailure) {
    if (err.type === 'ProviderUnavailable')
      return new ServiceUnavailableException('Twilio is unavailable; retry later');
    if (err.type === FailureType.ProviderAuthFailed) return new BadGatewayException('Twilio refused our credentials');
    return new BadGatewayException(`Twilio refused the request (${err.type})`);
  }
  if (isUnavailable(err)) return new ServiceUnavailableException('retry later');
  return new ServiceUnavailableException('Twilio could not be reached; retry later');
}
