import * as zod from 'zod';
import * as phone from 'libphonenumber-js/max';

// zod fills its global config (default locale, memoizer) when the first schema is built; the preloaded context is
// frozen afterwards, so build one now or every workflow would fail writing to the frozen config.
zod
  .strictObject({
    n: zod
      .string()
      .regex(/^\+\d+$/)
      .optional(),
  })
  .safeParse({});

/**
 * Preloaded into the worker's reusable V8 context (bench/worker-tuned): the pure libraries the workflow bundle uses,
 * evaluated once and shared instead of once per workflow. Exporting them keeps webpack from dropping the imports
 * (both packages declare `sideEffects: false`, so a bare `require('zod')` in the preload list is compiled away).
 */
export const SHARED_WORKFLOW_LIBRARIES = [zod, phone];
