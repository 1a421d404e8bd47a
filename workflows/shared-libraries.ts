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

const built = new Map<string, unknown>();

/**
 * `build`, run on the first call of any run and remembered under `key` for every later one. The contract's zod
 * schemas are built this way (`lazy` in workflows/contract/descriptor.ts): the bundle's own modules are evaluated per
 * workflow, so a memo in their scope was rebuilt by every run — 10–20 ms of the workflow thread per SMS verification
 * (docs/PERFORMANCE.md). This module is preloaded and shared, so the memo lives once per worker. Its exports are
 * deep-frozen after preloading; the map is reachable only through this closure, so it is not, and neither is what it
 * holds (built later, by the first run that asks). Safe to share: a schema is pure, holds nothing of the run that
 * built it, and parses the same for every run. Without sharing (WORKER_SHARE_WORKFLOW_LIBRARIES=false, or outside a
 * worker) the module, and so the memo, is per run or per process, as before.
 */
export function buildOnce<T>(key: string, build: () => T): () => T {
  return () => {
    if (!built.has(key)) built.set(key, build());
    return built.get(key) as T;
  };
}
