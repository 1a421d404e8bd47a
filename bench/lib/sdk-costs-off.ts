/**
 * A measurement switch, never a product path: preloaded into a benchmark worker (`NODE_OPTIONS=--require=…`, see
 * docs/PERFORMANCE.md), it turns off one or both of two costs that the Temporal TypeScript SDK puts on every workflow
 * activation, so each can be priced in one run against the unchanged worker:
 *
 * - `BENCH_SDK_NO_PROMISE_HOOK=1`: the V8 promise hook the SDK installs in its workflow thread (`vm-shared.js`,
 *   `setPromiseHook`), which captures and source-maps a stack for every promise a workflow creates, for the Web UI's
 *   stack-trace query. Without it, that query has nothing to show.
 * - `BENCH_SDK_NO_VM_TIMEOUT=1`: the `timeout` on every call into the workflow sandbox (`isolateExecutionTimeout`, the
 *   SDK's deadlock detection), for which Node starts and joins a watchdog thread per call. Without it, a workflow that
 *   never yields blocks the thread for good.
 *
 * Both only in the SDK's workflow threads; the main thread (activities, the core bridge) is left alone.
 */
import { isMainThread } from 'node:worker_threads';
import v8 from 'node:v8';
import vm from 'node:vm';

if (!isMainThread && process.env.BENCH_SDK_NO_PROMISE_HOOK === '1') {
  // `v8.promiseHooks` is frozen: replace the whole object, with a createHook that installs nothing.
  const hooks = { ...v8.promiseHooks, createHook: () => () => undefined };
  Object.defineProperty(v8, 'promiseHooks', { value: hooks, configurable: true });
}

if (!isMainThread && process.env.BENCH_SDK_NO_VM_TIMEOUT === '1') {
  const runInContext = vm.Script.prototype.runInContext;
  vm.Script.prototype.runInContext = function (context, options) {
    if (options?.timeout === undefined) return runInContext.call(this, context, options);
    const { timeout: _dropped, ...rest } = options;
    return runInContext.call(this, context, rest);
  };
}
