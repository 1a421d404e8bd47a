import { BadRequestException, ConflictException, Injectable } from '@nestjs/common';
import { Client, WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { isClientId, notFound } from '../auth/ownership';
import { toHttpError } from '../temporal/errors';
import {
  eventDeliveryContract,
  FailureType,
  onboardingContract,
  SA_CLIENT,
  VERIFICATION_CONTRACTS,
  type EventDeliveryState,
  type EventRecord,
} from '../../workflows/contract';

/** The runs that send events: every verification kind and onboardings. */
const SUBJECTS = [...VERIFICATION_CONTRACTS, onboardingContract];

const { getState, redeliver } = eventDeliveryContract.messages;

/**
 * `GET /v1/events` and `POST /v1/events/:id/redeliver`: a verification's outbound events with their delivery status
 * (the `getState` query of its `eventDelivery` workflow) and a redelivery (its `redeliver` update), for the API client
 * that owns the verification only — another client's IDs answer 404 like unknown ones. Holds no state.
 */
@Injectable()
export class EventsService {
  constructor(private readonly client: Client) {}

  /** The events of one of the caller's verifications; none yet (or events off for the client) → an empty list. */
  async list(caller: string, verificationId: string | undefined): Promise<EventDeliveryState> {
    if (!verificationId)
      throw new BadRequestException('verificationId: required (the ID of one of your verifications)');
    const handle = await this.delivery(caller, verificationId, 'verification', verificationId);
    const empty = { id: eventDeliveryContract.id(verificationId), verificationId, client: caller, events: [] };
    if (!handle) return empty;
    try {
      return await handle.query(getState);
    } catch (err) {
      throw toHttpError(err, verificationId);
    }
  }

  /**
   * Delivers one of the caller's events again, with the same `webhook-id`, after any pending ones; answers its record
   * (status `pending`). 409 once its delivery workflow no longer takes redeliveries (3 days after the last event).
   */
  async redeliver(caller: string, eventId: string): Promise<EventRecord> {
    const verificationId = eventDeliveryContract.helpers.verificationOfEvent(eventId);
    const handle = await this.delivery(caller, verificationId, 'event', eventId);
    if (!handle) throw notFound('event', eventId);
    try {
      return await handle.executeUpdate(redeliver, { args: [{ eventId }] });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        const cause = err.cause;
        if (cause instanceof ApplicationFailure && cause.type === FailureType.EventNotFound) {
          throw notFound('event', eventId);
        }
      }
      if (err instanceof WorkflowNotFoundError) {
        throw new ConflictException(`event ${eventId} can no longer be redelivered (its deliveries have ended)`);
      }
      throw toHttpError(err, eventId, 'event');
    }
  }

  /** The caller's delivery workflow of `verificationId`, undefined when there is none; 404 when not the caller's. */
  private async delivery(
    caller: string,
    verificationId: string,
    what: string,
    id: string,
  ): Promise<WorkflowHandle | undefined> {
    if (!isClientId(verificationId, caller, SUBJECTS)) throw notFound(what, id);
    const handle = this.client.workflow.getHandle(eventDeliveryContract.id(verificationId));
    try {
      const description = await handle.describe();
      if (description.typedSearchAttributes.get(SA_CLIENT) !== caller) throw notFound(what, id);
      if (what === 'event' && description.status.name !== 'RUNNING') {
        throw new ConflictException(`event ${id} can no longer be redelivered (its deliveries have ended)`);
      }
      return handle;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw toHttpError(err, id, what);
    }
  }
}
