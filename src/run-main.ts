import { ConfigError } from './config/config';

/**
 * Runs an entry point: starts it, then on SIGINT/SIGTERM runs the stop function it returned and exits. A bad
 * configuration prints the variable at fault and exits with status 2.
 */
export function runMain(start: () => Promise<() => Promise<void>>): void {
  start()
    .then((stop) => {
      let stopping = false;
      const onSignal = (signal: string) => {
        if (stopping) return;
        stopping = true;
        console.log(`${signal}: stopping…`);
        stop().then(
          () => process.exit(0),
          (err) => {
            console.error(err);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => onSignal('SIGINT'));
      process.on('SIGTERM', () => onSignal('SIGTERM'));
    })
    .catch((err) => {
      console.error(err instanceof ConfigError ? err.message : err);
      process.exit(err instanceof ConfigError ? 2 : 1);
    });
}
