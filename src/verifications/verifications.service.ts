import { ConflictException, Injectable } from '@nestjs/common';
import { Client, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { AppConfig } from '../config/config';
import { ApiSecurity } from '../auth/api-security';
import { isClientId, notFound, ownedRun } from '../auth/ownership';
import { updateIdFor } from '../common/idempotency-key';
import { toHttpError } from '../temporal/errors';
import { sendUpdate } from '../temporal/updates';
import {
  type CancelInput,
  type CheckCodeInput,
  type CheckCodeResult,
  endedCheckResult,
  type IdentityVerificationState,
  phoneContract,
  type PhoneVerificationState,
  type PushVerificationState,
  VERIFICATION_CONTRACTS,
} from '../../workflows/contract';

/** The state of a verification of any kind `/v1/verifications/:id` serves. */
export type VerificationState = PhoneVerificationState | PushVerificationState | IdentityVerificationState;

/**
 * The routes on `/v1/verifications/:id`, for every kind of VERIFICATION_CONTRACTS (phone, push, identity): the state
 * (`getState`) and `cancel`, which every kind has under the same wire name, and phone's `checkCode`, `nextChannel` and
 * `resend` (a push verification's fallback is a phone verification with an ID of its own). Every call is a Temporal
 * query or update any other Temporal client could make the same way, made for the authenticated API client on its own
 * verifications only. Holds no state.
 */
@Injectable()
export class VerificationsService {
  constructor(
    private readonly client: Client,
    private readonly config: AppConfig,
    private readonly security: ApiSecurity,
  ) {}

  /** The state of one of the caller's verifications (phone, push or identity); another's answers 404 like none. */
  async get(caller: string, id: string): Promise<VerificationState> {
    const handle = this.handle(caller, id);
    let state: VerificationState;
    try {
      state = await handle.query<VerificationState>(phoneContract.messages.getState.name);
    } catch (err) {
      throw toHttpError(err, id);
    }
    if (state.client !== caller) throw notFound('verification', id);
    return state;
  }

  /**
   * A check of a destination that used up its failed checks is refused here (429 `failed_checks`), counting nothing and
   * costing no Temporal update; the worker checks the same again for every caller.
   */
  async check(caller: string, id: string, input: CheckCodeInput, key?: string): Promise<CheckCodeResult> {
    return this.update(
      caller,
      id,
      updateIdFor('check', key, input),
      (h, updateId) => h.executeUpdate(phoneContract.messages.checkCode, { args: [input], updateId }),
      {
        noted: () => this.security.checkAllowedForRun(caller, id),
        before: (memo) => this.security.checkAllowed(caller, memo?.guardDestination),
        ended: async (h) => endedCheckResult(await h.result()),
      },
    );
  }

  async nextChannel(caller: string, id: string, key?: string): Promise<PhoneVerificationState> {
    return this.update(caller, id, updateIdFor('next', key, null), (h, updateId) =>
      h.executeUpdate(phoneContract.messages.nextChannel, { args: [], updateId }),
    );
  }

  async resend(caller: string, id: string, key?: string): Promise<PhoneVerificationState> {
    return this.update(caller, id, updateIdFor('resend', key, null), (h, updateId) =>
      h.executeUpdate(phoneContract.messages.resend, { args: [], updateId }),
    );
  }

  async cancel(caller: string, id: string, input: CancelInput, key?: string): Promise<VerificationState> {
    return this.update(caller, id, updateIdFor('cancel', key, input), (h, updateId) =>
      h.executeUpdate<VerificationState, [CancelInput]>(phoneContract.messages.cancel.name, {
        args: [input],
        updateId,
      }),
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

  /**
   * Runs an update on one of the caller's live verifications: 404 when not its own, 409 when it is over. Sent under
   * `updateId` (from the request's Idempotency-Key: a retry with the same key and body gets the first outcome; else one
   * made here), and again when the server aborted it with its workflow task (`sendUpdate`). `noted` answers first
   * whether the guard's store has a note of the caller's run: then the run is not described. By default the note of a
   * REST start says its owner, all that an update needing no more than that asks (the worker judges sends); a check
   * also has its destination's failed checks judged. Otherwise `before` runs on the run's memo. `ended` answers a
   * repeat that found the run closed.
   */
  private async update<T>(
    caller: string,
    id: string,
    updateId: string | undefined,
    send: (h: WorkflowHandle, updateId: string) => Promise<T>,
    opts: {
      noted?: () => Promise<boolean>;
      before?: (memo: Record<string, unknown> | undefined) => Promise<void>;
      ended?: (h: WorkflowHandle) => Promise<T>;
    } = {},
  ): Promise<T> {
    const noted = opts.noted ?? (() => this.security.isNotedRun(caller, id));
    let handle: WorkflowHandle;
    if (isClientId(id, caller, VERIFICATION_CONTRACTS) && (await noted())) {
      handle = this.client.workflow.getHandle(id);
    } else {
      const owned = await ownedRun(this.client, caller, id, VERIFICATION_CONTRACTS);
      await opts.before?.(owned.description.memo);
      handle = owned.handle;
    }
    const { ended } = opts;
    try {
      // Sent even when the run is over: a retried update (same Idempotency-Key) still gets its first answer.
      return await sendUpdate((u) => send(handle, u), updateId, ended && (() => ended(handle)));
    } catch (err) {
      // An update to a closed run answers "not found"; the run exists (we just looked, or noted its start): it is over.
      if (err instanceof WorkflowNotFoundError) throw new ConflictException(`verification ${id} is no longer live`);
      throw toHttpError(err, id);
    }
  }
}
