import { randomUUID } from 'node:crypto';
import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { Client, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { AppConfig } from '../config/config';
import { updateIdFor } from '../common/idempotency-key';
import { firstState, toHttpError } from '../temporal/errors';
import {
  cancel,
  checkCode,
  DEFAULT_PHONE_CHANNELS,
  getState,
  nextChannel,
  resend,
  phoneVerificationId,
  SA_KIND,
  SA_STATUS,
  type CancelInput,
  type CheckCodeInput,
  type CheckCodeResult,
  type PhoneVerificationInput,
  type VerificationState,
} from '../../workflows/definitions';
import { phoneVerification } from '../../workflows/phone-verification';

const ID_PATTERN = /^(phone|push|identity)-[A-Za-z0-9._:-]{1,64}$/;

/**
 * The REST API's view of the contract: every call is a Temporal start, update or query that any other Temporal
 * client could make the same way. Holds no state.
 */
@Injectable()
export class VerificationsService {
  constructor(
    private readonly client: Client,
    private readonly config: AppConfig,
  ) {}

  /** Starts (or, with a known reference, joins) a phone verification and returns its state. */
  async startPhone(input: PhoneVerificationInput): Promise<VerificationState> {
    const id = phoneVerificationId(input.reference ?? randomUUID().replace(/-/g, ''));
    const channels = (input.channels ?? DEFAULT_PHONE_CHANNELS).map((c) => c.channel).join(' → ');
    try {
      const handle = await this.client.workflow.start(phoneVerification, {
        workflowId: id,
        taskQueue: this.config.taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
        typedSearchAttributes: [
          { key: SA_KIND, value: 'phone' },
          { key: SA_STATUS, value: 'pending' },
        ],
        // No destination in summaries: they are stored in clear.
        staticSummary: `Phone verification for ${input.brand} via ${channels}`,
        staticDetails: `channels: ${channels}; expiry: ${input.expirySeconds ?? 600} s; max code attempts: ${input.maxCodeAttempts ?? 5}${input.reference ? `; reference: ${input.reference}` : ''}`,
      });
      return await firstState(this.client, handle, 'phone', (h) => h.query(getState));
    } catch (err) {
      throw toHttpError(err, id);
    }
  }

  async get(id: string): Promise<VerificationState> {
    return this.call(id, (h) => h.query(getState));
  }

  /** Updates take the request's Idempotency-Key: a retry with the same key and body gets the first outcome. */
  async check(id: string, input: CheckCodeInput, key?: string): Promise<CheckCodeResult> {
    return this.call(id, (h) =>
      h.executeUpdate(checkCode, { args: [input], updateId: updateIdFor('check', key, input) }),
    );
  }

  async nextChannel(id: string, key?: string): Promise<VerificationState> {
    return this.call(id, (h) => h.executeUpdate(nextChannel, { args: [], updateId: updateIdFor('next', key, null) }));
  }

  async resend(id: string, key?: string): Promise<VerificationState> {
    return this.call(id, (h) => h.executeUpdate(resend, { args: [], updateId: updateIdFor('resend', key, null) }));
  }

  async cancel(id: string, input: CancelInput, key?: string): Promise<VerificationState> {
    return this.call(id, (h) =>
      h.executeUpdate(cancel, { args: [input], updateId: updateIdFor('cancel', key, input) }),
    );
  }

  private async call<T>(id: string, fn: (h: WorkflowHandle) => Promise<T>): Promise<T> {
    // push-enrollment-<identity> is a push enrollment, not a verification (see /v1/push/enrollments/:identity).
    if (!ID_PATTERN.test(id) || id.startsWith('push-enrollment-')) {
      throw new NotFoundException(`verification ${id} not found`);
    }
    const handle = this.client.workflow.getHandle(id);
    try {
      return await fn(handle);
    } catch (err) {
      // An update to a closed workflow answers "not found": tell a verification that is over (409) from none (404).
      if (err instanceof WorkflowNotFoundError && (await exists(handle))) {
        throw new ConflictException(`verification ${id} is no longer live`);
      }
      throw toHttpError(err, id);
    }
  }
}

async function exists(handle: WorkflowHandle): Promise<boolean> {
  try {
    await handle.describe();
    return true;
  } catch {
    return false;
  }
}
