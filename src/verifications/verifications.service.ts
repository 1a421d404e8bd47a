import { randomBytes } from 'node:crypto';
import { BadRequestException, ConflictException, Injectable } from '@nestjs/common';
import { Client, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { AppConfig } from '../config/config';
import { ApiSecurity } from '../auth/api-security';
import { notFound, ownedRun } from '../auth/ownership';
import { updateIdFor } from '../common/idempotency-key';
import { toHttpError } from '../temporal/errors';
import { startVerification } from '../temporal/start';
import {
  cancel,
  checkCode,
  DEFAULT_MAX_CODE_ATTEMPTS,
  DEFAULT_PHONE_CHANNELS,
  DEFAULT_PHONE_EXPIRY_SECONDS,
  getState,
  nextChannel,
  phoneVerificationId,
  resend,
  type CancelInput,
  type CheckCodeInput,
  type CheckCodeResult,
  type PhoneVerificationInput,
  type VerificationState,
} from '../../workflows/definitions';
import { phoneVerification } from '../../workflows/phone/workflow';

/** The kinds `/v1/verifications/:id` serves (push enrollments are not verifications: /v1/push/enrollments). */
export const VERIFICATION_ID_KINDS = ['phone', 'push', 'identity'] as const;
const isEnrollment = (id: string) => id.startsWith('push-enrollment-');

/** A random verification key: 80 bits, short enough for `phone-<client>-<key>` to fit Vonage's 40-char client_ref. */
export const randomKey = (): string => randomBytes(10).toString('hex');

/**
 * The REST API's view of the contract: every call is a Temporal start, update or query that any other Temporal
 * client could make the same way, made for the authenticated API client on its own verifications only. Holds no state.
 */
@Injectable()
export class VerificationsService {
  constructor(
    private readonly client: Client,
    private readonly config: AppConfig,
    private readonly security: ApiSecurity,
  ) {}

  /**
   * Starts (or, repeated with the same reference and body, joins) a phone verification for `caller` and returns its
   * state. The first send is counted by the abuse guard before anything starts; a refusal starts nothing.
   */
  async startPhone(caller: string, body: PhoneVerificationInput): Promise<VerificationState> {
    if (body.messageTemplate !== undefined && !this.security.templates.has(caller, body.messageTemplate)) {
      throw new BadRequestException(`messageTemplate: no template named ${body.messageTemplate} is configured`);
    }
    const channels = (body.channels ?? DEFAULT_PHONE_CHANNELS).map((c) => c.channel).join(' → ');
    const input: PhoneVerificationInput = { ...body, client: caller, firstSendCounted: true };
    return startVerification(this.client, this.config.taskQueue, this.security.hashKey, {
      workflow: phoneVerification,
      workflowId: phoneVerificationId(body.reference ?? randomKey(), caller),
      input,
      body,
      kind: 'phone',
      client: caller,
      byReference: body.reference !== undefined,
      // No destination in summaries: they are stored in clear.
      staticSummary: `Phone verification for ${body.brand} via ${channels}`,
      staticDetails: `client: ${caller}; channels: ${channels}; expiry: ${body.expirySeconds ?? DEFAULT_PHONE_EXPIRY_SECONDS} s; max code attempts: ${body.maxCodeAttempts ?? DEFAULT_MAX_CODE_ATTEMPTS}${body.reference ? `; reference: ${body.reference}` : ''}`,
      // The destination travels in the (encrypted) memo, so a check can be refused here, before it costs an update.
      memo: { guardDestination: body.to },
      state: (h) => h.query(getState),
      beforeStart: () => this.security.countFirstSend(caller, body.to),
    });
  }

  /** The state of one of the caller's verifications (phone, push or identity); another's answers 404 like none. */
  async get(caller: string, id: string): Promise<VerificationState> {
    const handle = this.handle(caller, id);
    let state: VerificationState;
    try {
      state = await handle.query(getState);
    } catch (err) {
      throw toHttpError(err, id);
    }
    if (state.client !== caller) throw notFound('verification', id);
    return state;
  }

  /** Updates take the request's Idempotency-Key: a retry with the same key and body gets the first outcome. */
  /**
   * A check of a destination that used up its failed checks is refused here (429 `failed_checks`), counting nothing and
   * costing no Temporal update; the worker checks the same again for every caller.
   */
  async check(caller: string, id: string, input: CheckCodeInput, key?: string): Promise<CheckCodeResult> {
    return this.update(
      caller,
      id,
      (h) => h.executeUpdate(checkCode, { args: [input], updateId: updateIdFor('check', key, input) }),
      (memo) => this.security.checkAllowed(caller, memo?.guardDestination),
    );
  }

  async nextChannel(caller: string, id: string, key?: string): Promise<VerificationState> {
    return this.update(caller, id, (h) =>
      h.executeUpdate(nextChannel, { args: [], updateId: updateIdFor('next', key, null) }),
    );
  }

  async resend(caller: string, id: string, key?: string): Promise<VerificationState> {
    return this.update(caller, id, (h) =>
      h.executeUpdate(resend, { args: [], updateId: updateIdFor('resend', key, null) }),
    );
  }

  async cancel(caller: string, id: string, input: CancelInput, key?: string): Promise<VerificationState> {
    return this.update(caller, id, (h) =>
      h.executeUpdate(cancel, { args: [input], updateId: updateIdFor('cancel', key, input) }),
    );
  }

  /** The handle of an ID the caller could own (the query's state then tells whose it is). */
  private handle(caller: string, id: string): WorkflowHandle {
    if (isEnrollment(id)) throw notFound('verification', id);
    if (!VERIFICATION_ID_KINDS.some((k) => id.startsWith(`${k}-${caller}-`))) throw notFound('verification', id);
    return this.client.workflow.getHandle(id);
  }

  /** Runs an update on one of the caller's live verifications: 404 when not its own, 409 when it is over. */
  private async update<T>(
    caller: string,
    id: string,
    fn: (h: WorkflowHandle) => Promise<T>,
    before?: (memo: Record<string, unknown> | undefined) => Promise<void>,
  ): Promise<T> {
    if (isEnrollment(id)) throw notFound('verification', id);
    const { handle, description } = await ownedRun(this.client, caller, id, VERIFICATION_ID_KINDS);
    await before?.(description.memo);
    try {
      // Sent even when the run is over: a retried update (same Idempotency-Key) still gets its first answer.
      return await fn(handle);
    } catch (err) {
      // An update to a closed run answers "not found"; the run exists (we just looked): it is over.
      if (err instanceof WorkflowNotFoundError) throw new ConflictException(`verification ${id} is no longer live`);
      throw toHttpError(err, id);
    }
  }
}
