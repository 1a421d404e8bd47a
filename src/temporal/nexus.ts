import { BadRequestException } from '@nestjs/common';
import { createHash, createHmac } from 'node:crypto';
import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowHandle as ClientWorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, type SearchAttributePair } from '@temporalio/common';
import { getClient, operationInfo, startWorkflow, WorkflowRunOperationHandler } from '@temporalio/nexus';
import {
  HandlerError,
  OperationError,
  serviceHandler,
  type ServiceHandler,
  type StartOperationContext,
} from 'nexus-rpc';
import type { z } from 'zod';
import { guardRefusal, type AbuseGuard } from '../../activities/abuse-guard';
import type { MessageTemplates } from '../../activities/message-templates';
import {
  FailureType,
  formatIssues,
  identityContract,
  nexusSchemas,
  endedCheckResult,
  phoneContract,
  pushContract,
  pushEnrollmentContract,
  SA_CHANNEL,
  SA_CLIENT,
  SA_KIND,
  SA_PROVIDER,
  SA_STATUS,
  VERIFICATION_CONTRACTS,
  verificationNexusService,
  type CheckCodeInput,
  type EventsOption,
  type NexusVerificationState,
  type WorkflowContract,
} from '../../workflows/contract';
import { planChannels } from '../../workflows/phone/state';
import { phoneVerification } from '../../workflows/phone/workflow';
import { pushVerification } from '../../workflows/push/workflow';
import { identityVerification } from '../../workflows/identity/workflow';
import { isClientId } from '../auth/client-ids';
import { canonicalJson } from './start';
import { sendUpdate } from './updates';
import { explicitProviders, type ClientSettings } from '../auth/client-settings';

/** Who the callers of one Nexus endpoint are: one API client, the events option of its runs, its settings. */
export interface NexusEndpointClient {
  /** The API client every caller of the endpoint acts as (its verifications, its limits, its templates). */
  client: string;
  /** Outbound events of the runs it starts (the client's events endpoint, when it has one). */
  events?: EventsOption;
  /**
   * The client's settings (CLIENTS_FILE) applied to its starts as to its REST ones: its defaults filled in, its
   * bounds enforced (channels, providers, code attempts, expiry), a start beyond them refused BAD_REQUEST naming the
   * field. Without it the caller's input is taken as given, as from any Temporal caller.
   */
  settings?: ClientSettings;
}

export interface VerificationNexusOptions {
  /**
   * Nexus endpoint name → the API client its callers act as. A request through an endpoint not listed here is refused
   * (UNAUTHORIZED): who may call an endpoint is Temporal's to enforce (the endpoint's target and, on Temporal Cloud, its
   * allowed caller namespaces); which client's verifications the caller sees is ours.
   */
  endpoints: Record<string, NexusEndpointClient>;
  /** The abuse guard the worker's activities use: a start whose first send it would refuse starts nothing. */
  abuseGuard?: AbuseGuard;
  /** The message templates callers may name (an unknown `messageTemplate` is refused before anything starts). */
  templates?: MessageTemplates;
  /**
   * The key of the request hashes that tell a repeat from a conflict (the API's VERIFYFLOW_HASH_SECRET): with it, a
   * start under a reference whose verification is running with another request fails `ReferenceConflict`, as REST
   * answers 409, and a repeat of the same request (over REST or Nexus) joins it. Without it, a repeat joins.
   */
  referenceKey?: Buffer;
}

/**
 * The handlers of the `verification` Nexus service (workflows/contract/nexus.ts), run by the worker that hosts our
 * workflows. The caller's identity is the endpoint it came through (`operationInfo().endpoint`), mapped to one API
 * client: the runs it starts carry that client (`client` input, `VerificationClient` search attribute, workflow IDs
 * `<kind>-<client>-…`) exactly as REST starts do, so the same client sees them over REST, and the other operations
 * act only on that client's verifications (another's answers NOT_FOUND, like one that does not exist). Every send is
 * counted by the worker's abuse guard, as for any Temporal caller.
 */
export function verificationServiceHandler(
  options: VerificationNexusOptions,
): ServiceHandler<typeof verificationNexusService.operations> {
  const callerOf = (): { endpoint: string } & NexusEndpointClient => {
    const { endpoint } = operationInfo();
    const caller = options.endpoints[endpoint];
    if (!caller) {
      throw new HandlerError(
        'UNAUTHORIZED',
        endpoint
          ? `Nexus endpoint ${endpoint} is not mapped to an API client of this worker (NEXUS_ENDPOINTS)`
          : 'the Temporal server did not name the Nexus endpoint (it needs Temporal server 1.30 or later)',
        { retryableOverride: false },
      );
    }
    return { endpoint, ...caller };
  };

  /** Refuses (failing the operation, starting nothing) a start whose first send the abuse guard would refuse now. */
  const refuseGuarded = async (client: string, to: string): Promise<void> => {
    const verdict = await options.abuseGuard?.peekSend(client, to);
    if (verdict && !verdict.allowed) {
      const failure = guardRefusal(verdict);
      throw new OperationError('failed', failure.message, { cause: failure });
    }
  };

  const startOptions = (
    ctx: StartOperationContext,
    caller: { endpoint: string; client: string },
    kind: string,
    workflowId: string,
    attributes: SearchAttributePair[],
  ) => ({
    workflowId,
    // A repeat under the same reference (or a retried request) joins the running verification and gets its result.
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
    // What the run will say once its first step is live (so it upserts nothing until that moves); `attributes` win.
    typedSearchAttributes: [
      ...attributes,
      { key: SA_KIND, value: kind },
      { key: SA_STATUS, value: 'pending' },
      { key: SA_CLIENT, value: caller.client },
    ].filter((p, i, all) => all.findIndex((q) => q.key.name === p.key.name) === i) as SearchAttributePair[],
    staticDetails: `client: ${caller.client}; started through Nexus endpoint ${caller.endpoint} (request ${ctx.requestId})`,
  });

  /**
   * Sends an update to one of the caller's phone verifications (by ID or reference). A retried request (same request
   * ID) is the same update: it gets the first answer, nothing done twice.
   */
  const phoneUpdate = async <T>(
    ctx: StartOperationContext,
    ref: { id: string } | { reference: string },
    update: (handle: ClientWorkflowHandle, updateId: string) => Promise<T>,
    ended?: (handle: ClientWorkflowHandle) => Promise<T>,
  ): Promise<T> => {
    const { client } = callerOf();
    const id = 'id' in ref ? ref.id : phoneContract.id(ref.reference, client);
    const handle = await ownedRun(client, id, [phoneContract]);
    try {
      return await sendUpdate(
        (updateId) => update(handle, updateId),
        `nexus-${ctx.operation}-${ctx.requestId}`,
        ended && (() => ended(handle)),
      );
    } catch (err) {
      throw operationFailure(err, id);
    }
  };

  /** The keyed hash of a start's request (what the caller asked for, before the client is added), as REST keeps it. */
  const requestHashOf = (body: unknown): string | undefined =>
    options.referenceKey && createHmac('sha256', options.referenceKey).update(canonicalJson(body)).digest('base64url');

  /**
   * Whether a start under `workflowId` joins a running verification. With a reference, a running one of another client
   * or started with another request is not joined: the operation fails `ReferenceConflict` (REST's 409), starting and
   * sending nothing.
   */
  const joinsRunning = async (workflowId: string, client: string, requestHash: string | undefined) => {
    const running = await runningDescription(workflowId);
    if (!running) return false;
    if (
      requestHash !== undefined &&
      (running.typedSearchAttributes.get(SA_CLIENT) !== client || running.memo?.requestHash !== requestHash)
    ) {
      const failure = ApplicationFailure.create({
        type: FailureType.ReferenceConflict,
        message: `reference: ${workflowId} is a running verification started with a different request; use another reference`,
        nonRetryable: true,
      });
      throw new OperationError('failed', failure.message, { cause: failure });
    }
    return true;
  };

  return serviceHandler(verificationNexusService, {
    phoneVerification: new WorkflowRunOperationHandler(async (ctx, raw) => {
      const caller = callerOf();
      const parsed = parse(nexusSchemas().phoneVerification, raw);
      const body = withSettings(() =>
        caller.settings ? caller.settings.phoneStart(caller.client, parsed, explicitProviders(raw)) : parsed,
      );
      if (body.messageTemplate !== undefined && options.templates?.has(caller.client, body.messageTemplate) === false) {
        throw badRequest(`messageTemplate: no template named ${body.messageTemplate} is configured`);
      }
      const workflowId = phoneContract.id(body.reference ?? keyOf(ctx), caller.client);
      const requestHash = body.reference !== undefined ? requestHashOf(body) : undefined;
      // A repeat (same reference and request, or a retried request) joins the running verification and sends nothing:
      // only a new one has a first send for the guard to refuse.
      if (!(await joinsRunning(workflowId, caller.client, requestHash))) {
        await refuseGuarded(caller.client, body.channels?.[0]?.to ?? body.to);
      }
      const input = { ...body, client: caller.client, ...(caller.events && { events: caller.events }) };
      const first = planChannels(input)[0];
      const channels = (body.channels ?? phoneContract.defaults.channels).map((c) => c.channel).join(' → ');
      return startWorkflow(ctx, phoneVerification, {
        ...startOptions(ctx, caller, phoneContract.kind, workflowId, [
          { key: SA_STATUS, value: first.channel === 'silent_auth' ? 'action_pending' : 'pending' },
          { key: SA_CHANNEL, value: first.channel },
          { key: SA_PROVIDER, value: first.provider },
        ]),
        args: [input],
        // No destination in summaries: they are stored in clear.
        staticSummary: `Phone verification for ${body.brand} via ${channels} (Nexus)`,
        // Encrypted like every payload; lets a check be refused up front, as for REST starts.
        memo: { guardDestination: body.to, ...(requestHash && { requestHash }) },
      });
    }),

    pushVerification: new WorkflowRunOperationHandler(async (ctx, raw) => {
      const caller = callerOf();
      const body = parse(nexusSchemas().pushVerification, raw);
      withSettings(() => caller.settings?.requireProvider(caller.client, 'twilio', 'provider'));
      const identity = pushEnrollmentContract.helpers.entityIdentity(body.identity, caller.client);
      if (identity.length > 64) {
        throw badRequest(`identity: must be at most ${63 - caller.client.length} characters for this client`);
      }
      const workflowId = pushContract.id(body.reference ?? keyOf(ctx), caller.client);
      const requestHash = body.reference !== undefined ? requestHashOf(body) : undefined;
      await joinsRunning(workflowId, caller.client, requestHash);
      return startWorkflow(ctx, pushVerification, {
        ...startOptions(ctx, caller, pushContract.kind, workflowId, [
          { key: SA_CHANNEL, value: 'push' },
          { key: SA_PROVIDER, value: 'twilio' },
        ]),
        args: [{ ...body, identity, client: caller.client, ...(caller.events && { events: caller.events }) }],
        staticSummary: `Push verification via Twilio Verify${body.fallback ? ' → phone fallback' : ''} (Nexus)`,
        ...(requestHash && { memo: { requestHash } }),
      });
    }),

    identityVerification: new WorkflowRunOperationHandler(async (ctx, raw) => {
      const caller = callerOf();
      const body = parse(nexusSchemas().identityVerification, raw);
      withSettings(() => caller.settings?.requireProvider(caller.client, 'stripe', 'provider'));
      const workflowId = identityContract.id(body.reference, caller.client);
      const requestHash = requestHashOf(body);
      await joinsRunning(workflowId, caller.client, requestHash);
      return startWorkflow(ctx, identityVerification, {
        ...startOptions(ctx, caller, identityContract.kind, workflowId, [{ key: SA_PROVIDER, value: 'stripe' }]),
        args: [{ ...body, client: caller.client, ...(caller.events && { events: caller.events }) }],
        // The reference is a platform user id (not PII); `expected` never goes here.
        staticSummary: `Identity verification (${body.type}) of user ${body.reference} via Stripe Identity (Nexus)`,
        ...(requestHash && { memo: { requestHash } }),
      });
    }),

    checkCode: async (ctx, raw) => {
      const input = parse(nexusSchemas().checkCode, raw);
      const args: [CheckCodeInput] = [
        { code: input.code, ...(input.requestId !== undefined && { requestId: input.requestId }) },
      ];
      return phoneUpdate(
        ctx,
        input,
        (handle, updateId) => handle.executeUpdate(phoneContract.messages.checkCode, { args, updateId }),
        async (handle) => endedCheckResult(await handle.result()),
      );
    },

    nextChannel: async (ctx, raw) =>
      phoneUpdate(ctx, parse(nexusSchemas().phoneRef, raw), (handle, updateId) =>
        handle.executeUpdate(phoneContract.messages.nextChannel, { args: [], updateId }),
      ),

    resend: async (ctx, raw) =>
      phoneUpdate(ctx, parse(nexusSchemas().phoneRef, raw), (handle, updateId) =>
        handle.executeUpdate(phoneContract.messages.resend, { args: [], updateId }),
      ),

    getState: async (_ctx, raw) => {
      const { client } = callerOf();
      const ref = parse(nexusSchemas().getState, raw);
      const id = 'id' in ref ? ref.id : contractOfKind(ref.kind).id(ref.reference, client);
      if (!isClientId(id, client, VERIFICATION_CONTRACTS)) throw notFound(id);
      let state: NexusVerificationState;
      try {
        state = await getClient()
          .workflow.getHandle(id)
          .query<NexusVerificationState>(phoneContract.messages.getState.name);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw notFound(id);
        throw err;
      }
      // Another client's run (or a Temporal caller's without one) answers exactly like none.
      if (state.client !== client) throw notFound(id);
      return state;
    },
  });
}

/** The input, validated with the operation's schema; else BAD_REQUEST naming the fields (never their values). */
function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw badRequest(formatIssues(parsed.error));
  return parsed.data;
}

const badRequest = (message: string) => new HandlerError('BAD_REQUEST', message, { retryableOverride: false });

/** Runs a client-settings step; its refusal (a 400 over REST, naming the field) is a BAD_REQUEST here. */
function withSettings<T>(step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (err instanceof BadRequestException) throw badRequest(err.message);
    throw err;
  }
}

/** NOT_FOUND, not retried: another client's verification answers like one that does not exist. */
const notFound = (id: string) =>
  new HandlerError('NOT_FOUND', `verification ${id} not found`, { retryableOverride: false });

/**
 * The workflow ID key of a start without a reference: from the operation's request ID, which a retried start request
 * keeps, so a retry can never start a second verification (and send a second code). 20 hex, like a random REST key.
 */
const keyOf = (ctx: StartOperationContext): string =>
  createHash('sha256').update(`nexus:${ctx.requestId}`).digest('hex').slice(0, 20);

const contractOfKind = (kind: string): WorkflowContract => VERIFICATION_CONTRACTS.find((c) => c.kind === kind)!;

/** The description of the run with this workflow ID when it is running now; else undefined. */
async function runningDescription(workflowId: string) {
  try {
    const description = await getClient().workflow.getHandle(workflowId).describe();
    return description.status.name === 'RUNNING' ? description : undefined;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** The run `id` when its `VerificationClient` is `client` (read from the run itself); else NOT_FOUND. */
async function ownedRun(
  client: string,
  id: string,
  contracts: readonly WorkflowContract[],
): Promise<ClientWorkflowHandle> {
  if (!isClientId(id, client, contracts)) throw notFound(id);
  const handle = getClient().workflow.getHandle(id);
  try {
    const description = await handle.describe();
    if (description.typedSearchAttributes.get(SA_CLIENT) !== client) throw notFound(id);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw notFound(id);
    throw err;
  }
  return handle;
}

/**
 * An update's refusal as the failed operation the caller sees: the workflow's typed ApplicationFailure (a validator's
 * `InvalidInput`, `NotLive`…), or `NotLive` for a run that has ended. Anything else (Temporal unreachable) is thrown
 * as it is, and Nexus retries the request.
 */
function operationFailure(err: unknown, id: string): unknown {
  if (err instanceof WorkflowNotFoundError) {
    const failure = ApplicationFailure.create({
      type: FailureType.NotLive,
      message: `verification ${id} is no longer live`,
      nonRetryable: true,
    });
    return new OperationError('failed', failure.message, { cause: failure });
  }
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
    return new OperationError('failed', err.cause.message, { cause: err.cause });
  }
  return err;
}
