/**
 * Interruptible sleeps for the sandbox's background work (webhook delays and retries, emulated processing times),
 * behind the webhook sender. `close()` wakes every sleeper and makes later sleeps return at once, so a closed emulator
 * lets the process (and jest) exit.
 */
export class Sleeper {
  private readonly pending = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private stopped = false;

  get closed(): boolean {
    return this.stopped;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const entry = {
        timer: setTimeout(() => {
          this.pending.delete(entry);
          resolve();
        }, ms).unref(),
        resolve,
      };
      this.pending.add(entry);
    });
  }

  close(): void {
    this.stopped = true;
    for (const entry of this.pending) {
      clearTimeout(entry.timer);
      entry.resolve();
    }
    this.pending.clear();
  }
}
