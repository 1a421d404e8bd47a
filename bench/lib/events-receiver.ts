import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** How the receiver behaves now: `ok` (204), `error` (500), `slow` (holds each answer `slowMs`, then 204). */
export type ReceiverMode = 'ok' | 'error' | 'slow';

/** One POST the receiver read to the end: its webhook-id, whether the signature verified, what it answered. */
export interface ReceivedDelivery {
  webhookId: string;
  verified: boolean;
  /** 204, 500, or `late` when a slow answer found the sender gone (it had timed out and will try again). */
  answered: number | 'late';
  /** The event when the signature verified. */
  event?: { id: string; type: string; timestamp: string; data: { verificationId: string; status: string } };
}

/**
 * A platform's events endpoint for the chaos runs, in the driver process on 127.0.0.1: verifies every POST with the
 * `standardwebhooks` library and records it. It can be stopped (connections refused: the receiver is down), switched
 * to answering 500 or to answering slowly, and restarted on the same port.
 */
export class ChaosEventsReceiver {
  readonly deliveries: ReceivedDelivery[] = [];
  mode: ReceiverMode = 'ok';
  slowMs = 20_000;
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly webhook: Webhook;

  private constructor(
    readonly port: number,
    readonly secret: string,
  ) {
    this.webhook = new Webhook(secret);
  }

  /** A receiver with a Standard Webhooks secret of its own (`secret`), listening on 127.0.0.1:`port`. */
  static async start(
    port: number,
    secret = 'whsec_' + randomBytes(36).toString('base64'),
  ): Promise<ChaosEventsReceiver> {
    const r = new ChaosEventsReceiver(port, secret);
    await r.listen();
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/events`;
  }

  get up(): boolean {
    return Boolean(this.server);
  }

  /** Listens again on its port (after `stop`). */
  async listen(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  /** Down: closes the listener and every open connection (requests in flight are cut). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const header = (name: string) => String(req.headers[name] ?? '');
    const entry: ReceivedDelivery = { webhookId: header('webhook-id'), verified: false, answered: 401 };
    try {
      entry.event = this.webhook.verify(body, {
        'webhook-id': entry.webhookId,
        'webhook-timestamp': header('webhook-timestamp'),
        'webhook-signature': header('webhook-signature'),
      }) as ReceivedDelivery['event'];
      entry.verified = true;
    } catch {
      this.deliveries.push(entry);
      res.writeHead(401).end();
      return;
    }
    const mode = this.mode;
    if (mode === 'error') {
      entry.answered = 500;
      this.deliveries.push(entry);
      res.writeHead(500).end();
      return;
    }
    if (mode === 'slow') {
      await new Promise((r) => setTimeout(r, this.slowMs));
      // The sender gave up before this (its try timed out, or the receiver restarted): not a delivery.
      if (res.destroyed || req.socket.destroyed) {
        entry.answered = 'late';
        this.deliveries.push(entry);
        return;
      }
    }
    entry.answered = 204;
    this.deliveries.push(entry);
    res.writeHead(204).end();
  }
}
