import { randomBytes } from 'node:crypto';
import { BadRequestException, ConflictException, Injectable } from '@nestjs/common';
import { Client, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { AppConfig } from '../config/config';
import { ApiSecurity } from '../auth/api-security';
import { isClientId, notFound, ownedRun } from '../auth/ownership';
import { updateIdFor } from '../common/idempotency-key';
import { toHttpError } from '../temporal/errors';
import { startVerification } from '../temporal/start';
import {
  type CancelInput,
  type CheckCodeInput,
  type CheckCodeResult,
  phoneContract,
  type PhoneVerificationInput,
  type PhoneVerificationState,
  VERIFICATION_CONTRACTS,
} from '../../workflows/contract';
import { phoneVerification } from '../../workflows/phone-verification';

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
  async startPhone(caller: string, body: PhoneVerificationInput): Promise<PhoneVerificationState> {
    if (body.messageTemplate !== undefined && !this.security.templates.has(caller, body.messageTemplate)) {
      throw new BadRequestException(`messageTemplate: no template named ${body.messageTemplate} is configured`);
    }
    const channels = (body.channels ?? phoneContract.defaults.channels).map((c) => c.channel).join(' → ');
    const input: PhoneVerificationInput = { ...body, client: caller, firstSendCounted: true };
    return startVerification(this.client, this.config.taskQueue, this.security.hashKey, {
      workflow: phoneVerification,
      workflowId: phoneContract.id(body.reference ?? randomKey(), caller),
      input,
      body,
      kind: phoneContract.kind,
      client: caller,
      byReference: body.reference !== undefined,
      // No destination in summaries: they are stored in clear.
      staticSummary: `Phone verification for ${body.brand} via ${channels}`,
      staticDetails: `client: ${caller}; channels: ${channels}; expiry: ${body.expirySeconds ?? phoneContract.defaults.expirySeconds} s; max code attempts: ${body.maxCodeAttempts ?? phoneContract.defaults.maxCodeAttempts}${body.reference ? `; reference: ${body.reference}` : ''}`,
      // The destination travels in the (encrypted) memo, so a check can be refused here, before it costs an update.
      memo: { guardDestination: body.to },
      state: (h) => h.query(phoneContract.messages.getState),
      beforeStart: () => this.security.countFirstSend(caller, body.to),
    });
  }

  /** The state of one of the caller's verifications (phone, push or identity); another's answers 404 like none. */
  async get(caller: string, id: string): Promise<PhoneVerificationState> {
    const handle = this.handle(caller, id);
    let state: PhoneVerificationState;
    try {
      state = await handle.query(phoneContract.messages.getState);
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
      (h) =>
        h.executeUpdate(phoneContract.messages.checkCode, {
          args: [input],
          updateId: updateIdFor('check', key, input),
        }),
      (memo) => this.security.checkAllowed(caller, memo?.guardDestination),
    );
  }

  async nextChannel(caller: string, id: string, key?: string): Promise<PhoneVerificationState> {
    return this.update(caller, id, (h) =>
      h.executeUpdate(phoneContract.messages.nextChannel, { args: [], updateId: updateIdFor('next', key, null) }),
    );
  }

  async resend(caller: string, id: string, key?: string): Promise<PhoneVerificationState> {
    return this.update(caller, id, (h) =>
      h.executeUpdate(phoneContract.messages.resend, { args: [], updateId: updateIdFor('resend', key, null) }),
    );
  }

  async cancel(caller: string, id: string, input: CancelInput, key?: string): Promise<PhoneVerificationState> {
    return this.update(caller, id, (h) =>
      h.executeUpdate(phoneContract.messages.cancel, { args: [input], updateId: updateIdFor('cancel', key, input) }),
    );
  }

  /**
   * The handle of an ID the caller could own (the query's state then tells whose it is): an ID of one of the
   * VERIFICATION_CONTRACTS (phone, push, identity; push enrollments are not verifications: /v1/push/enrollments).
   */
  private handle(caller: string, id: string): WorkflowHandle {
    if (!isClientId(id, caller, VERIFICATION_CONTRACTS)) throw notFound('verification', id);
    return this.client.workflow.getHandle(id);
  }

  /** Runs an update on one of the caller's live verifications: 404 when not its own, 409 when it is over. */
  private async update<T>(
    caller: string,
    id: string,
    fn: (h: WorkflowHandle) => Promise<T>,
    before?: (memo: Record<string, unknown> | undefined) => Promise<void>,
  ): Promise<T> {
    const { handle, description } = await ownedRun(this.client, caller, id, VERIFICATION_CONTRACTS);
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
