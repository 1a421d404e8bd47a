import { temporal } from '@temporalio/proto';
import { SearchAttributeType } from '@temporalio/common';
import { loadConfig } from '../config/config';
import { SEARCH_ATTRIBUTES } from '../../workflows/contract';
import { connectClient } from './client';

const INDEXED: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  [SearchAttributeType.KEYWORD]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  [SearchAttributeType.KEYWORD_LIST]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/**
 * Registers verifyflow's search attributes on the configured cluster (`npm run temporal:register-search-attributes`).
 * Idempotent: attributes that exist are left alone. The embedded dev server registers them itself. On Temporal
 * Cloud, add them with `tcld namespace search-attributes add` instead (the operator API is not open there).
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const client = await connectClient(config);
  const namespace = config.temporal.connect.namespace ?? 'default';
  const existing = await client.connection.operatorService.listSearchAttributes({ namespace });
  const missing = SEARCH_ATTRIBUTES.filter((k) => !(k.name in (existing.customAttributes ?? {})));
  if (missing.length) {
    await client.connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((k) => [k.name, INDEXED[k.type]])),
    });
  }
  console.log(
    missing.length
      ? `registered ${missing.map((k) => k.name).join(', ')} on ${namespace}`
      : `all search attributes already registered on ${namespace}`,
  );
  await client.connection.close();
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
