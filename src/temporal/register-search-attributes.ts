import { setUpNamespace } from './search-attributes';

/**
 * Registers verifyflow's search attributes on the configured cluster (`npm run temporal:register-search-attributes`),
 * and on a self-hosted cluster the namespace first when it does not exist (3 days' retention). Idempotent: what exists
 * is left alone, so every deploy may run it. The embedded dev server registers them itself. On Temporal Cloud, add
 * them with `tcld namespace search-attributes add` instead (the operator API is not open there). Needs only the
 * Temporal connection's variables (setUpNamespace).
 */
async function main(): Promise<void> {
  const { namespace, namespaceRegistered, added } = await setUpNamespace();
  if (namespaceRegistered) console.log(`registered namespace ${namespace}`);
  // The frontend learns new attributes within seconds (its caches refresh).
  console.log(
    added.length
      ? `registered ${added.join(', ')} on ${namespace}`
      : `all search attributes already registered on ${namespace}`,
  );
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
