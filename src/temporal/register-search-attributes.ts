import { loadConfig } from '../config/config';
import { connectClient } from './client';
import { ensureNamespace, registerSearchAttributes } from './search-attributes';

/**
 * Registers verifyflow's search attributes on the configured cluster (`npm run temporal:register-search-attributes`),
 * and on a self-hosted cluster the namespace first when it does not exist (3 days' retention). Idempotent: what exists
 * is left alone, so every deploy may run it. The embedded dev server registers them itself. On Temporal Cloud, add
 * them with `tcld namespace search-attributes add` instead (the operator API is not open there).
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const client = await connectClient(config);
  const namespace = config.temporal.connect.namespace ?? 'default';
  if (await ensureNamespace(client.connection, namespace)) console.log(`registered namespace ${namespace}`);
  const added = await registerSearchAttributes(client.connection, namespace);
  // The frontend learns a new namespace and new attributes within seconds (its caches refresh).
  console.log(
    added.length
      ? `registered ${added.join(', ')} on ${namespace}`
      : `all search attributes already registered on ${namespace}`,
  );
  await client.connection.close();
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
