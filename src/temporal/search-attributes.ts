import type { ConnectionLike } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { msToTs } from '@temporalio/common/lib/time';
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
  return true;
}
