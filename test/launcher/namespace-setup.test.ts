import { randomUUID } from 'node:crypto';
import { Connection } from '@temporalio/client';
import { setUpNamespace } from '../../src/temporal/search-attributes';
import { SEARCH_ATTRIBUTES } from '../../workflows/contract';

/**
 * `npm run temporal:register-search-attributes` (setUpNamespace) on the suite's Temporal server, with nothing but the
 * connection's variables: a missing namespace is registered and its search attributes added in the same run (the
 * frontend learns a new namespace only after its cache refreshes), and a second run changes nothing.
 */
const names = SEARCH_ATTRIBUTES.map((k) => k.name);

test('a missing namespace and all search attributes in one run, from the Temporal variables alone; a second run adds nothing', async () => {
  const namespace = `setup-${randomUUID().slice(0, 8)}`;
  // No REDIS_URL, no codec keys, no provider credentials: what a deploy pipeline's set-up step has.
  const env = { TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: namespace };

  expect(await setUpNamespace(env)).toEqual({ namespace, namespaceRegistered: true, added: names });
  expect(await setUpNamespace(env)).toEqual({ namespace, namespaceRegistered: false, added: [] });

  const connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS });
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(names));
  } finally {
    await connection.close();
  }
}, 120_000);
