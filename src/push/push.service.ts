import {
  BadGatewayException,
  BadRequestException,
  ConflictException,
  HttpException,
  Injectable,
  NotImplementedException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { TwilioPushAdapter, type TwilioPush } from '../../providers/twilio/push';
import { ApiSecurity } from '../auth/api-security';
import { ClientSettings } from '../auth/client-settings';
import { notFound, ownedRun } from '../auth/ownership';
import { AppConfig } from '../config/config';
import { isUnavailable, toHttpError, updateFailureToHttp } from '../temporal/errors';
import { randomKey, startVerification } from '../temporal/start';
import {
  FailureType,
  phoneContract,
  pushContract,
  pushEnrollmentContract,
  PUSH_ROUTING_KEY,
  type PushEnrollmentState,
  type PushVerificationInput,
  type PushVerificationState,
  type PhoneVerificationState,
  SA_CHANNEL,
  SA_CLIENT,
  SA_KIND,
  SA_PROVIDER,
  SA_STATUS,
  shared,
} from '../../workflows/contract';
import { pushEnrollment } from '../../workflows/push/enrollment';
import { initialPush } from '../../workflows/push/state';
import { pushVerification } from '../../workflows/push/workflow';

/** Body of `POST /v1/push/access-tokens` (REST only: brokering a token is not a workflow operation). */
export const pushAccessTokenInputSchema = z.strictObject({
  identity: shared.pushIdentity(),
  /** How long the enrollment waits for factor.created → factor.verified (default 600 s). */
  enrollmentTimeoutSeconds: z.number().int().min(1).max(86_400).optional(),
});
export type PushAccessTokenInput = z.infer<typeof pushAccessTokenInputSchema>;

/**
 * Body of `POST /v1/verifications/push`: the workflow input without what only the API sets — in its phone fallback
 * too (a caller-set `firstSendCounted` would skip the abuse guard's count of the fallback's first send).
 */
export const pushStartSchema = pushContract
  .schemas()
  .input.omit({ client: true, events: true })
  .extend({
    hiddenDetails: pushContract
      .schemas()
      .input.shape.hiddenDetails.refine(
        (v) => v === undefined || !Object.hasOwn(v, PUSH_ROUTING_KEY),
        `${PUSH_ROUTING_KEY} is reserved: verifyflow puts the verification's ID there to route Twilio's webhooks`,
      ),
    fallback: phoneContract.schemas().input.omit({ client: true, events: true, firstSendCounted: true }).optional(),
  });

/** Body of `POST /v1/push/enrollments/:identity/factors/:factorSid/approve`. */
export const approveFactorBodySchema = z.strictObject({
  /** A completed verification of this client: a push verification approved on another verified factor of the identity, or a phone verification (step-up). */
  verificationId: z.string().min(1).max(200),
});
export type ApproveFactorBody = z.infer<typeof approveFactorBodySchema>;

/** What the device receives (Twilio Verify Push quickstart: the access token, the identity and the Verify Service SID). */
export interface PushAccessTokenResponse {
  token: string;
  /** The Twilio entity identity the device enrolls under: `<client>-<identity>`. */
  identity: string;
  serviceSid: string;
  factorType: 'push';
  ttl?: number;
}

/**
 * Push over REST, per API client: a client's user `identity` is the Twilio entity `<client>-<identity>`, so two
 * clients' users never share factors. Brokers Verify Push access tokens (opening the identity's `pushEnrollment`),
 * starts `pushVerification`, reads the enrollment (never asking Twilio) and approves factors that wait for approval.
 * Holds no state.
 */
@Injectable()
export class PushService {
  private readonly twilio?: TwilioPush;

  constructor(
    private readonly client: Client,
    private readonly config: AppConfig,
    private readonly security: ApiSecurity,
    private readonly settings: ClientSettings,
  ) {
    this.twilio = config.twilio ? new TwilioPushAdapter(config.twilio) : undefined;
  }

  /** Opens (or extends) the identity's enrollment window, then brokers an access token for its device. */
  async createAccessToken(caller: string, input: PushAccessTokenInput): Promise<PushAccessTokenResponse> {
    if (!this.twilio) throw new NotImplementedException('push is not configured on this server (TWILIO_ACCOUNT_SID)');
    this.settings.requireProvider(caller, 'twilio', 'provider');
    const entity = entityOf(caller, input.identity);
    const workflowId = pushEnrollmentContract.id(entity);
    try {
      // First the enrollment, so the factor webhooks that follow the token find it.
      await this.client.workflow.signalWithStart(pushEnrollment, {
        workflowId,
        taskQueue: this.config.taskQueue,
        args: [{ identity: entity, client: caller }],
        signal: pushEnrollmentContract.messages.enrollmentRequested,
        signalArgs: [{ timeoutSeconds: input.enrollmentTimeoutSeconds }],
        typedSearchAttributes: [
          { key: SA_KIND, value: pushEnrollmentContract.kind },
          { key: SA_PROVIDER, value: 'twilio' },
          { key: SA_CLIENT, value: caller },
        ],
        staticSummary: 'Push enrollment (Twilio Verify): follows factor.created → factor.verified',
      });
    } catch (err) {
      throw toHttpError(err, workflowId, 'push enrollment');
    }
    try {
      const token = await this.twilio.createAccessToken(entity);
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

  /** Starts (or, repeated with the same reference and body, joins) a push verification and returns its state. */
  async startPush(caller: string, body: PushVerificationInput): Promise<PushVerificationState> {
    this.settings.requireProvider(caller, 'twilio', 'provider');
    const events = this.settings.eventsOption(caller);
    const input: PushVerificationInput = {
      ...body,
      identity: entityOf(caller, body.identity),
      client: caller,
      ...(events && { events }),
    };
    const fallback = body.fallback ? ` → ${body.fallback.brand} phone fallback` : '';
    const workflowId = pushContract.id(body.reference ?? randomKey(), caller);
    return startVerification(this.client, this.config.taskQueue, this.security.hashKey, {
      workflow: pushVerification,
      workflowId,
      input,
      body,
      kind: pushContract.kind,
      client: caller,
      byReference: body.reference !== undefined,
      // What the run says once its challenge is out, so it upserts nothing until its answer (or fallback).
      searchAttributes: [
        { key: SA_STATUS, value: 'action_pending' },
        { key: SA_CHANNEL, value: 'push' },
        { key: SA_PROVIDER, value: 'twilio' },
      ],
      // No identity, message or phone number in summaries: they are stored in clear.
      staticSummary: `Push verification via Twilio Verify${fallback}`,
      staticDetails: [
        `client: ${caller}`,
        `expiry: ${body.expirySeconds ?? pushContract.defaults.expirySeconds} s`,
        `poll every ${body.pollIntervalSeconds ?? pushContract.defaults.pollIntervalSeconds} s`,
        body.resendAfterSeconds ? `resend after ${body.resendAfterSeconds} s` : 'no resend',
        body.fallback ? `fallback: phone${body.fallbackOnDeny ? ' (also on deny)' : ''}` : 'no fallback',
        ...(body.reference ? [`reference: ${body.reference}`] : []),
      ].join('; '),
      state: (h) => h.query(pushContract.messages.getState),
      // The state the run starts with, built from the input as the workflow does (no query).
      first: {
        initial: () => {
          const now = Date.now();
          const expiresAt = now + (body.expirySeconds ?? pushContract.defaults.expirySeconds) * 1000;
          return initialPush({ id: workflowId, client: caller, startedAt: now, expiresAt }).state;
        },
      },
      // The fallback's sends are counted by the worker when it makes them; a destination refused now starts nothing.
      beforeStart: body.fallback ? () => this.security.checkFirstSend(caller, body.fallback!.to) : undefined,
    });
  }

  /** The identity's enrollment: every factor with its status (`pending_approval` ones receive no challenge). */
  async getEnrollment(caller: string, identity: string): Promise<PushEnrollmentState> {
    const id = pushEnrollmentContract.id(entityOf(caller, identity));
    let state: PushEnrollmentState;
    try {
      state = await this.client.workflow.getHandle(id).query(pushEnrollmentContract.messages.getState);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw notFound('push enrollment of identity', identity);
      throw toHttpError(err, id, 'push enrollment');
    }
    if (state.client !== caller) throw notFound('push enrollment of identity', identity);
    return state;
  }

  /**
   * Approves a factor that waits for approval with a completed verification of the caller's: a push verification
   * approved on another verified factor of the identity, or a phone verification (step-up). The verification must
   * have completed after the factor was created, and approves one factor once (the enrollment checks both).
   */
  async approveFactor(
    caller: string,
    identity: string,
    factorSid: string,
    body: ApproveFactorBody,
  ): Promise<PushEnrollmentState> {
    if (!shared.factorSid().safeParse(factorSid).success)
      throw new BadRequestException('factorSid: must be a Factor SID');
    const contract = [pushContract, phoneContract].find((c) => body.verificationId.startsWith(`${c.idPrefix}-`));
    if (!contract) throw new BadRequestException('verificationId: must be a push or phone verification id');
    const kind = contract.kind;
    const { handle } = await ownedRun(this.client, caller, body.verificationId, [contract]);
    let proof: { status: string; updatedAt: string; factorSid?: string };
    try {
      // Either kind's state has the fields a proof needs (push adds the factor its challenge was approved on).
      proof = await handle.query<PushVerificationState | PhoneVerificationState>(contract.messages.getState.name);
    } catch (err) {
      throw toHttpError(err, body.verificationId);
    }
    if (proof.status !== 'completed') {
      throw new ConflictException(`verificationId: ${body.verificationId} is ${proof.status}, not completed`);
    }
    const enrollmentId = pushEnrollmentContract.id(entityOf(caller, identity));
    await this.getEnrollment(caller, identity);
    try {
      return await this.client.workflow
        .getHandle(enrollmentId)
        .executeUpdate(pushEnrollmentContract.messages.approveFactor, {
          args: [
            {
              factorSid,
              verificationId: body.verificationId,
              kind,
              ...(kind === 'push' && proof.factorSid ? { approvedOnFactorSid: proof.factorSid } : {}),
              completedAt: proof.updatedAt,
            },
          ],
        });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ConflictException('the enrollment is over');
      throw err instanceof HttpException
        ? err
        : (err as Error).name === 'WorkflowUpdateFailedError'
          ? updateFailureToHttp((err as { cause?: unknown }).cause)
          : toHttpError(err, enrollmentId, 'push enrollment');
    }
  }
}

/** A client's user identity as its Twilio entity (`<client>-<identity>`, at most 64 characters); 400 when too long. */
function entityOf(client: string, identity: string): string {
  const entity = pushEnrollmentContract.helpers.entityIdentity(identity, client);
  if (entity.length > 64) {
    throw new BadRequestException(`identity: must be at most ${63 - client.length} characters for this client`);
  }
  return entity;
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
