import { LaunchError } from './common/launch-error';
import { ConfigError } from './config/config';

/** What a running entry point can do about its own lifecycle. */
export interface Lifecycle {
  /** True once the process is stopping (a signal, or fail()). */
  readonly stopping: boolean;
  /**
   * A part of the process stopped working (the worker, the embedded Temporal server): stop the rest and exit 1, so
   * nothing runs on as half a system. While already stopping, the reason is printed and the exit status becomes 1.
   */
  fail(reason: string): void;
}

/** A stop that takes longer than this is abandoned: the process exits 1 (its watched children end with it). */
const STOP_TIMEOUT_MS = 30_000;

/**
 * Runs an entry point: starts it, then on SIGINT/SIGTERM — or when it reports a failure — runs the stop function it
 * returned and exits. A bad configuration prints the variable at fault and exits with status 2; a LaunchError (a
 * port taken, no Temporal CLI to be had) prints its message alone and exits 1.
 */
export function runMain(start: (lifecycle: Lifecycle) => Promise<() => Promise<void>>): void {
  let stop: (() => Promise<void>) | undefined;
  let stopping = false;
  let exitCode = 0;
  let earlyFailure: string | undefined;

  const shutdown = (why: string, code: number) => {
    if (stopping || !stop) return;
    stopping = true;
    exitCode = code;
    const [first, ...details] = why.split('\n');
    (code === 0 ? console.log : console.error)([`${first}: stopping…`, ...details].join('\n'));
    setTimeout(() => {
      console.error(`not stopped after ${STOP_TIMEOUT_MS / 1000} s: exiting`);
      process.exit(1);
    }, STOP_TIMEOUT_MS).unref();
    stop().then(
      () => process.exit(exitCode),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  };

  const lifecycle: Lifecycle = {
    get stopping() {
      return stopping;
    },
    fail(reason) {
      if (stopping) {
        console.error(reason);
        exitCode = 1;
      } else if (!stop) earlyFailure ??= reason;
      else shutdown(reason, 1);
    },
  };

  start(lifecycle)
    .then((stopFn) => {
      stop = stopFn;
      process.on('SIGINT', () => shutdown('SIGINT', 0));
      process.on('SIGTERM', () => shutdown('SIGTERM', 0));
      if (earlyFailure) shutdown(earlyFailure, 1);
    })
    .catch((err) => {
      const known = err instanceof ConfigError || err instanceof LaunchError;
      console.error(known ? err.message : err);
      process.exit(err instanceof ConfigError ? 2 : 1);
    });
}
