import { createHash } from 'node:crypto';
import { ServiceUnavailableException, type Logger } from '@nestjs/common';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import { encodeToPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { SA_KIND, SA_PROVIDER_REF } from '../../workflows/contract';
import { inSignalSpan } from '../telemetry/signal-span';
import { isUnavailable } from '../temporal/errors';

/** How long a webhook may wait on Temporal before it answers 503 (providers give up on slow webhooks). */
const DELIVERY_DEADLINE_MS = 5_000;

/**
 * The last step of every webhook, after the signature check and normalization: run the Temporal calls (lookup,
 * signal) under a deadline. A workflow that is over or no longer exists → false (acknowledge, nothing to do); Temporal
 * unreachable or too slow → 503, so the provider retries and the event is acknowledged only once it is durable.
 * A run that is over is an ordinary case, not a fault: providers call back after the run ended (a Vonage callback for a
 * request our own check completed is not even signalled, see the Vonage webhook; one whose check answer was lost, or
 * whose note could not be read, still is). So it is a debug line, not a warning.
 */
export async function deliver(
  client: Client,
  logger: Logger,
  what: string,
  fn: () => Promise<boolean>,
): Promise<boolean> {
  try {
    return await client.withDeadline(Date.now() + DELIVERY_DEADLINE_MS, fn);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      logger.debug(`${what}: the run is over (or gone); acknowledged`);
      return false;
    }
    if (isUnavailable(err)) throw new ServiceUnavailableException('Temporal is unreachable; retry later');
    throw err;
  }
}

/**
 * The workflow whose VerificationProviderRef holds `ref` (`provider:id`). Visibility is eventually consistent, so a
 * caller whose event can overtake the workflow's own upsert asks for a few `attempts`.
 */
export async function findByProviderRef(
  client: Client,
  ref: string,
  options: { kind?: string; attempts?: number; delayMs?: number } = {},
): Promise<string | undefined> {
  const clean = (v: string) => v.replace(/'/g, '');
  const query = `${options.kind ? `${SA_KIND.name} = '${clean(options.kind)}' AND ` : ''}${SA_PROVIDER_REF.name} = '${clean(ref)}'`;
  for (let attempt = 0; attempt < (options.attempts ?? 1); attempt++) {
    if (attempt) await new Promise((r) => setTimeout(r, options.delayMs ?? 250));
    for await (const wf of client.workflow.list({ query, pageSize: 1 })) return wf.workflowId;
  }
  return undefined;
}

/** gRPC NOT_FOUND: the workflow does not exist (any more). */
const GRPC_NOT_FOUND = 5;

/**
 * Signals `event` so that a repeat of the same event is dropped by the Temporal server, not only by the workflow:
 * the signal's request ID is a hash of the signal name and the event, and the server keeps the request IDs of the
 * signals a run has received. A provider retry or a replayed delivery then adds no history event, no workflow task
 * and no billable action. (`handle.signal()` always sends a random request ID.) Payloads go through the client's data
 * converter and codec, like every other signal; the client's interceptors are not run, so the signal is traced here
 * (`inSignalSpan`), as the tracing interceptor would.
 */
export async function signalOnce<T>(
  client: Client,
  workflowId: string,
  signal: SignalDefinition<[T]>,
  event: T,
): Promise<void> {
  const hash = createHash('sha256').update(signal.name).update('\0').update(JSON.stringify(event)).digest('hex');
  const requestId = `${hash.slice(0, 8)}-${hash.slice(8, 12)}-${hash.slice(12, 16)}-${hash.slice(16, 20)}-${hash.slice(20, 32)}`;
  try {
    await inSignalSpan(signal.name, workflowId, async (header) =>
      client.workflowService.signalWorkflowExecution({
        namespace: client.options.namespace,
        identity: client.options.identity,
        workflowExecution: { workflowId },
        signalName: signal.name,
        requestId,
        input: { payloads: await encodeToPayloads(client.options.loadedDataConverter, event) },
        header,
      }),
    );
  } catch (err) {
    if ((err as { code?: unknown }).code === GRPC_NOT_FOUND) {
      throw new WorkflowNotFoundError(`workflow ${workflowId} not found`, workflowId, undefined);
    }
    throw err;
  }
}
