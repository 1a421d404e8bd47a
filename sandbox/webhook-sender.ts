import { Sleeper } from './sleeper';

/** One HTTP request of a webhook, built again for every attempt: providers sign at sending time. */
export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** One POST of a webhook as the sender saw it. */
export interface WebhookAttempt {
  /** 0 for the first try of a delivery. */
  attempt: number;
  ms: number;
  /** The HTTP status answered, absent on a network error. */
  httpStatus?: number;
  /** `HTTP <status>` or the network error; absent when answered 2xx. */
  failure?: string;
  /** `delivered` (2xx), `retrying`, or `dropped` after the last retry. */
  outcome: 'delivered' | 'retrying' | 'dropped';
}

/** When a webhook goes out and how often it is retried. */
export interface WebhookTiming {
  /** Wait before the first attempt. Default 50 ms. */
  delayMs: number;
  /** Retries of a POST answered non-2xx or failing on the network. Default 5. */
  retries: number;
  /** First retry delay, doubled on every retry. Default 200 ms. */
  retryBaseMs: number;
}

const DEFAULT_TIMING: WebhookTiming = { delayMs: 50, retries: 5, retryBaseMs: 200 };

/** What a provider hands the sender: how to build (and sign) the request, and what it wants to hear back. */
export interface Webhook {
  /** Names it in log lines, e.g. `completed callback for <request id>`. */
  label: string;
  /** Webhooks with the same key go out one after another, in the order sent; without a key, on their own. */
  queue?: string;
  /** Builds the request of one attempt: URL, signed headers, body. */
  request(): WebhookRequest;
  /** Called after every POST, answered or not. */
  onAttempt?(attempt: WebhookAttempt): void;
}

/** One emulator's sender: its name in logs, its delivery timing, its logger. */
export interface WebhookSenderOptions {
  /** Prefix of the log lines, e.g. `vonage sandbox`. */
  name: string;
  /** Read at every delivery and attempt, so a chaos run can change it while the emulator runs; unset = default. */
  timing: () => Partial<WebhookTiming>;
  logger?: { warn(msg: string): void };
}

/**
 * The one signed-webhook sender of the sandbox: every emulator hands it its callbacks, events, webhooks and receipts.
 * It waits the delay, POSTs, retries non-2xx answers and network errors with exponential backoff, keeps the order of
 * a queue (one provider request, session or entity), and stops everything on `close()`, so a closed emulator lets the
 * process (and jest) exit. Providers keep only how they sign and what they send.
 */
export class WebhookSender {
  private readonly sleeper = new Sleeper();
  /** The last delivery of each queue; an idle queue is forgotten. */
  private readonly queues = new Map<string, Promise<void>>();

  constructor(private readonly opts: WebhookSenderOptions) {}

  /** Sends in the background: after the earlier webhooks of its queue, or at once when it has none. */
  send(webhook: Webhook): void {
    const key = webhook.queue;
    if (key === undefined) {
      void this.deliver(webhook);
      return;
    }
    const tail = (this.queues.get(key) ?? Promise.resolve()).then(() => this.deliver(webhook));
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
  }

  /** A sleep that `close()` cuts short: emulators wait with it too (processing delays, shuffled callbacks). */
  sleep(ms: number): Promise<void> {
    return this.sleeper.sleep(ms);
  }

  get closed(): boolean {
    return this.sleeper.closed;
  }

  /** Stops pending deliveries and retries, and wakes every sleep. */
  close(): void {
    this.sleeper.close();
  }

  private timing(): WebhookTiming {
    const { delayMs, retries, retryBaseMs } = this.opts.timing();
    return {
      delayMs: delayMs ?? DEFAULT_TIMING.delayMs,
      retries: retries ?? DEFAULT_TIMING.retries,
      retryBaseMs: retryBaseMs ?? DEFAULT_TIMING.retryBaseMs,
    };
  }

  private async deliver(webhook: Webhook): Promise<void> {
    try {
      await this.sleep(this.timing().delayMs);
      for (let attempt = 0; !this.closed; attempt++) {
        const { retries, retryBaseMs } = this.timing();
        const started = performance.now();
        const { failure, httpStatus } = await post(webhook.request());
        const ms = performance.now() - started;
        const outcome = !failure ? 'delivered' : attempt >= retries ? 'dropped' : 'retrying';
        webhook.onAttempt?.({ attempt, ms, httpStatus, failure, outcome });
        if (outcome === 'delivered') return;
        if (outcome === 'dropped')
          return this.opts.logger?.warn(`${this.opts.name}: dropped ${webhook.label} (${failure})`);
        this.opts.logger?.warn(`${this.opts.name}: ${webhook.label} failed (${failure}), retrying`);
        await this.sleep(retryBaseMs * 2 ** attempt);
      }
    } catch (err) {
      // An observer that throws must not stall the webhooks queued behind this one.
      this.opts.logger?.warn(
        `${this.opts.name}: ${webhook.label}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
}

/** POSTs one request; resolves to the HTTP status and a failure description (absent when answered 2xx). */
async function post(request: WebhookRequest): Promise<{ failure?: string; httpStatus?: number }> {
  try {
    const res = await fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer().catch(() => undefined);
    return { failure: res.ok ? undefined : `HTTP ${res.status}`, httpStatus: res.status };
  } catch (err) {
    return { failure: err instanceof Error ? err.message : String(err) };
  }
}
