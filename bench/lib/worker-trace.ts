/**
 * A measurement probe, never a product path: preloaded into a benchmark worker (`node dist/bench/timeline.js --trace`
 * passes `--require` of this module), it notes when each step of the SDK's task pipeline happens on the worker's main
 * thread — a workflow activation polled from the core, its payloads decoded, the workflow created and activated in the
 * workflow thread, the completion encoded and handed back (and when the core answers, after the server took it), a
 * local activity polled, run and completed — together with the activities' Redis commands and HTTP requests. The
 * events go to `$DATA_DIR/worker-trace.json` (the run directory the bench gives every process); `timeline.ts` turns
 * them into medians per step. It wraps functions of `@temporalio/worker` and `@temporalio/core-bridge` that are not
 * public API: a release that renames them makes the probe throw at start-up rather than measure nothing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { subscribe } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';
import { WORKER_TRACE_FILE, type TraceEvent } from './trace-file';

type AnyFn = (...args: unknown[]) => unknown;

/** Replaces `target[name]` with a function that notes `before` (and `after`, once its promise settles) around it. */
function around(target: object, name: string, note: (label: string) => void, before?: string, after?: string): void {
  const host = target as Record<string, AnyFn>;
  const original = host[name];
  if (typeof original !== 'function') throw new Error(`worker-trace: ${name} is not a function any more`);
  host[name] = function (this: unknown, ...args: unknown[]) {
    if (before) note(before);
    const result = original.apply(this, args);
    if (after && result instanceof Promise) {
      result.then(
        () => note(after),
        () => note(`${after} (failed)`),
      );
    }
    return result;
  };
}

function install(): void {
  const events: TraceEvent[] = [];
  const note = (label: string) => events.push([performance.now(), label]);
  /* eslint-disable @typescript-eslint/no-require-imports -- internals of the SDK, resolved like the worker does */
  const { native } = require('@temporalio/core-bridge') as { native: object };
  type Class = { prototype: object };
  const { VMWorkflowThreadProxy } = require('@temporalio/worker/lib/workflow/threaded-vm') as Record<string, Class>;
  const { WorkflowCodecRunner } = require('@temporalio/worker/lib/workflow-codec-runner') as Record<string, Class>;
  const { Worker } = require('@temporalio/worker') as { Worker: { prototype: object } };
  const { Redis } = require('ioredis') as { Redis: { prototype: object } };
  /* eslint-enable @typescript-eslint/no-require-imports */

  around(native, 'workerPollWorkflowActivation', note, undefined, 'activation polled');
  around(native, 'workerCompleteWorkflowActivation', note, 'activation completed', 'core took the completion');
  around(native, 'workerPollActivityTask', note, undefined, 'activity task polled');
  around(native, 'workerCompleteActivityTask', note, 'activity task completed', 'core took the activity result');
  around(Worker.prototype, 'handleActivation', note, 'activation handled: in', 'activation handled: out');
  around(WorkflowCodecRunner.prototype, 'decodeActivation', note, 'decode: in', 'decode: out');
  around(WorkflowCodecRunner.prototype, 'encodeCompletion', note, 'encode: in', 'encode: out');
  around(VMWorkflowThreadProxy, 'create', note, 'workflow created: in', 'workflow created: out');
  around(VMWorkflowThreadProxy.prototype, 'activate', note, 'workflow thread: in', 'workflow thread: out');
  const redis = Redis.prototype as { sendCommand: (command: { name: string }, ...rest: unknown[]) => unknown };
  const sendCommand = redis.sendCommand;
  redis.sendCommand = function (this: unknown, command, ...rest) {
    note(`redis ${command.name}: sent`);
    const reply = sendCommand.call(this, command, ...rest);
    if (reply instanceof Promise)
      reply.then(
        () => note(`redis ${command.name}: answered`),
        () => undefined,
      );
    return reply;
  };
  subscribe('http.client.request.start', (m) =>
    note(`http ${(m as { request: { method: string } }).request.method}: sent`),
  );
  subscribe('http.client.response.finish', (m) =>
    note(`http ${(m as { request: { method: string } }).request.method}: answered`),
  );

  // Activities: wrapped by a plugin that runs after every other, so it sees the merged set.
  const create = (Worker as unknown as { create: AnyFn }).create;
  (Worker as unknown as { create: AnyFn }).create = function (this: unknown, options: unknown) {
    const opts = options as { plugins?: object[] };
    const plugin = {
      name: 'bench-worker-trace',
      configureWorker: (o: { activities?: Record<string, AnyFn> }) => ({
        ...o,
        activities: Object.fromEntries(
          Object.entries(o.activities ?? {}).map(([name, fn]) => [
            name,
            async function (this: unknown, ...args: unknown[]) {
              note(`activity ${name}: in`);
              try {
                return await fn.apply(this, args);
              } finally {
                note(`activity ${name}: out`);
              }
            },
          ]),
        ),
      }),
    };
    return create.call(this, { ...opts, plugins: [...(opts.plugins ?? []), plugin] });
  };

  const file = join(process.env.DATA_DIR ?? '.', WORKER_TRACE_FILE);
  const save = () => writeFileSync(file, JSON.stringify(events));
  setInterval(save, 1000).unref();
  process.on('exit', save);
}

// The SDK's workflow threads inherit the preload; only the main thread runs the pipeline noted here.
if (isMainThread) install();
