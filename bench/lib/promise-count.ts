/**
 * A measurement probe, never a product path: preloaded into the benchmark workers (`node dist/bench/timeline.js
 * --require ./dist/bench/lib/promise-count.js`), it counts the promises created in each SDK workflow thread, and of
 * them those of the workflow sandbox (another realm's `Promise`), for each of which the SDK's promise hook captures and
 * source-maps a stack (docs/PERFORMANCE.md). Every 7th sandbox promise also notes the four frames that created it, so
 * the sites can be ranked. Written every second to `$DATA_DIR/promise-count-<pid>-<thread>.json` (the timeline gives
 * each worker its own run directory).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import v8 from 'node:v8';
import { isMainThread, threadId } from 'node:worker_threads';

type Init = (promise: Promise<unknown>, parent: Promise<unknown>) => void;

if (!isMainThread) {
  let all = 0;
  let sandboxed = 0;
  const sites = new Map<string, number>();
  const createHook = v8.promiseHooks.createHook;
  const hooks = {
    ...v8.promiseHooks,
    createHook: (callbacks: Parameters<typeof createHook>[0]) =>
      createHook({
        ...callbacks,
        init: (promise: Promise<unknown>, parent: Promise<unknown>) => {
          all++;
          if (promise.constructor !== Promise) {
            sandboxed++;
            if (sandboxed % 7 === 0) {
              const frames = (new Error().stack ?? '')
                .split('\n')
                .slice(2)
                .map((l) => l.trim().replace(/\(.*\/([^/]+):(\d+):\d+\)$/, '($1:$2)'))
                .filter((l) => !l.includes('node:internal'))
                .slice(0, 4);
              const site = frames.join(' <- ');
              sites.set(site, (sites.get(site) ?? 0) + 1);
            }
          }
          (callbacks.init as Init | undefined)?.(promise, parent);
        },
      }),
  };
  // `v8.promiseHooks` is frozen: replace the whole object (as bench/lib/sdk-costs-off.ts does).
  Object.defineProperty(v8, 'promiseHooks', { value: hooks, configurable: true });
  const file = join(process.env.DATA_DIR ?? '.', `promise-count-${process.pid}-${threadId}.json`);
  const save = () =>
    writeFileSync(
      file,
      JSON.stringify({ all, sandboxed, sites: [...sites].sort((a, b) => b[1] - a[1]).slice(0, 40) }, null, 1),
    );
  setInterval(save, 1000).unref();
}
