import * as zod from 'zod';
import * as phone from 'libphonenumber-js/max';

// zod fills its global config (default locale, memoizer) when the first schema is built. The preloaded modules are
// deep-frozen once loaded, so build one schema now; otherwise every workflow would fail writing to the frozen config.
zod
  .strictObject({
    n: zod
      .string()
      .regex(/^\+\d+$/)
      .optional(),
  })
  .safeParse({});

/**
 * The pure libraries the workflow bundle uses. VerificationPlugin preloads this module into the worker's reusable V8
 * context (`bundlerOptions.preloadModules`), so they are evaluated once and shared by every workflow instead of once
 * per workflow. Both packages declare `sideEffects: false`, so a bare `require('zod')` in the preload list would be
 * compiled away; exporting them keeps webpack from dropping the imports. Nothing here holds per-workflow state.
 */
export const SHARED_WORKFLOW_LIBRARIES = [zod, phone];
