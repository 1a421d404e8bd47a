import type { ConnectionLike } from '@temporalio/client';
export interface NexusEndpointTarget {
  /** The endpoint's name (what callers address). */
  name: string;
  /** Where its requests go: the namespace and task queue of the worker that serves the `verification` service. */
  namespace: string;
  taskQueue: string;
}

/**
 * Makes sure the Nexus endpoint `name` exists and targets `namespace` / `taskQueue`, through the operator API (as
 * `temporal operator nexus endpoint create` does): created when missing, its target updated when it points elsewhere
 * (e.g. a task queue renamed since a previous `npm run dev` on the same data directory), else left alone. Resolves
 * with what it did.
 */
export async function ensureNexusEndpoint(
  connection: ConnectionLike,
  target: NexusEndpointTarget,
): Promise<'created' | 'updated' | 'unchanged'> {
  const spec = {
    name: target.name,
    target: { worker: { namespace: target.namespace, taskQueue: target.taskQueue } },
  };
  const { endpoints } = await connection.operatorService.listNexusEndpoints({ name: target.name, pageSize: 1 });
  const existing = endpoints?.find((e) => e.spec?.name === target.name);
  if (!existing) {
    try {
      await connection.operatorService.createNexusEndpoint({ spec });
      return 'created';
    } catch (err) {
      // ALREADY_EXISTS: another process created it since we looked; check its target like any existing one.
      if ((err as { code?: number }).code !== 6) throw err;
      return ensureNexusEndpoint(connection, target);
    }
  }
  const worker = existing.spec?.target?.worker;
  if (worker?.namespace === target.namespace && worker?.taskQueue === target.taskQueue) return 'unchanged';
  await connection.operatorService.updateNexusEndpoint({
    id: existing.id,
    version: existing.version,
    spec: { ...spec, description: existing.spec?.description },
  });
  return 'updated';
}

/**
 * The `temporal` CLI command that creates the same endpoint on a cluster of your own (printed by `npm run dev` when
 * it did not start the server), for the `verification` service.
 */
export const nexusEndpointCommand = (target: NexusEndpointTarget): string =>
  `temporal operator nexus endpoint create --name ${target.name} --target-namespace ${target.namespace} ` +
  `--target-task-queue ${target.taskQueue}`;
