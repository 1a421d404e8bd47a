import { Connection, type ConnectionLike } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { msToTs } from '@temporalio/common/lib/time';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../../workflows/contract';

const INDEXED: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  [SearchAttributeType.KEYWORD]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  [SearchAttributeType.KEYWORD_LIST]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/**
 * Registers verifyflow's search attributes (the contract's SEARCH_ATTRIBUTES) on a namespace through the operator
 * API; those that exist are left alone. Resolves with the names it added. Used by
 * `npm run temporal:register-search-attributes` and by the cluster launcher.
 */
export async function registerSearchAttributes(connection: ConnectionLike, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = SEARCH_ATTRIBUTES.filter((k) => !(k.name in (existing.customAttributes ?? {})));
  if (missing.length) {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((k) => [k.name, INDEXED[k.type]])),
    });
  }
  return missing.map((k) => k.name);
}

/**
 * Registers `namespace` on a self-hosted cluster when it does not exist (retention `retentionDays`), then waits until
 * the frontend serves it: its namespace cache refreshes every few seconds. On Temporal Cloud namespaces are made in
 * the Cloud console or with `tcld`; there the namespace exists and this only checks it.
 */
export async function ensureNamespace(
  connection: ConnectionLike,
  namespace: string,
  retentionDays = 3,
  timeoutMs = 60_000,
): Promise<boolean> {
  const exists = await connection.workflowService.describeNamespace({ namespace }).then(
    () => true,
    (err: { code?: number }) => {
      if (err.code !== 5) throw err; // NOT_FOUND
      return false;
    },
  );
  if (exists) return false;
  await connection.workflowService
    .registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(`${retentionDays} days`) })
    .catch((err: { code?: number }) => {
      if (err.code !== 6) throw err; // ALREADY_EXISTS: another process was first
    });
  // Until the frontend's namespace cache has it, the operator API answers NOT_FOUND for it (a few seconds).
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await connection.operatorService.listSearchAttributes({ namespace });
      return true;
    } catch (err) {
      if ((err as { code?: number }).code !== 5 || Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/**
 * `npm run temporal:register-search-attributes`: the namespace (when missing, on a self-hosted cluster) and our search
 * attributes on the cluster the environment names. It reads only the Temporal connection (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE, as the API and the worker do): it starts no
 * verification, so it needs neither provider credentials nor Redis. Without an address or profile it targets the
 * embedded dev server's port (TEMPORAL_DEV_PORT, 7233).
 */
export async function setUpNamespace(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ namespace: string; namespaceRegistered: boolean; added: string[] }> {
  const envVars = Object.fromEntries(Object.entries(env).filter((kv): kv is [string, string] => kv[1] !== undefined));
  const { connectionOptions, namespace = 'default' } = loadClientConnectConfig({
    profile: env.TEMPORAL_PROFILE,
    overrideEnvVars: envVars,
  });
  const embedded = !env.TEMPORAL_ADDRESS && !env.TEMPORAL_PROFILE;
  const connection = await Connection.connect({
    address: embedded ? `127.0.0.1:${env.TEMPORAL_DEV_PORT ?? '7233'}` : connectionOptions.address,
    tls: connectionOptions.tls,
    apiKey: connectionOptions.apiKey,
    metadata: connectionOptions.metadata,
  });
  try {
    const namespaceRegistered = await ensureNamespace(connection, namespace);
    const added = await registerSearchAttributes(connection, namespace);
    return { namespace, namespaceRegistered, added };
  } finally {
    await connection.close();
  }
}
