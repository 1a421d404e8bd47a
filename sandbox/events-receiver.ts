import express, { type Request, type Response, type Router } from 'express';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { keepLast } from './retention';

/** One delivery that reached the receiver: its Standard Webhooks headers, whether they verified, what it answered. */
export interface ReceivedEvent {
  webhookId: string;
  webhookTimestamp: string;
  /** Whether the signature verified with the client's secret (standardwebhooks `verify`). */
  verified: boolean;
  /** Why it did not verify. */
  error?: string;
  /** The HTTP status the receiver answered. */
  answered: number;
  /** The event (parsed body) when it verified. */
  event?: { id: string; type: string; timestamp: string; data: Record<string, unknown> };
  receivedAt: string;
}

export interface EventsReceiverOptions {
  /** The Standard Webhooks secret of each API client whose events may come here, by client id. */
  secrets: () => Record<string, string>;
}

/** How many deliveries the receiver keeps (newest). */
const MAX_KEPT = 500;

/**
 * A platform's events endpoint, for the sandbox (mount at `/sandbox/events`): `POST /` verifies the Standard Webhooks
 * signature with the `standardwebhooks` library and the secret of the client the event names, answers 204 when it
 * verifies and 401 when not, and keeps what it got. `GET /` lists it (JSON, newest last; `?verificationId=` keeps
 * the deliveries whose webhook-id is one of that verification's events, `<verification ID>~…`).
 * Chaos: `POST /fail {"status": 500, "count": 3}` makes the next `count` deliveries answer `status` (0 drops the
 * connection: the receiver is "down"); `POST /fail {"status": 0, "count": 0}` clears it.
 */
export class EventsReceiver {
  readonly received: ReceivedEvent[] = [];
  private failing: { status: number; count: number } = { status: 0, count: 0 };

  constructor(private readonly opts: EventsReceiverOptions) {}

  router(): Router {
    const r = express.Router();
    // The exact bytes are what is signed: kept by the app's body parsers, or here when mounted on its own.
    r.use(
      express.json({
        limit: '16kb',
        verify: (req, _res, buf) => {
          (req as Request & { rawBody?: Buffer }).rawBody = buf;
        },
      }),
    );
    r.post('/', (req, res) => this.receive(req, res));
    r.get('/', (req, res) => {
      const id = typeof req.query.verificationId === 'string' ? req.query.verificationId : undefined;
      res
        .set('Cache-Control', 'no-store')
        .json(id ? this.received.filter((e) => e.webhookId.startsWith(`${id}~`)) : this.received);
    });
    r.post('/fail', (req, res) => {
      const body = (req.body ?? {}) as { status?: unknown; count?: unknown };
      const status = Number(body.status ?? 500);
      const count = Number(body.count ?? 1);
      if (!Number.isInteger(status) || !(status === 0 || (status >= 100 && status <= 599))) {
        res.status(400).json({ message: 'status: must be 0 (drop the connection) or an HTTP status' });
        return;
      }
      if (!Number.isInteger(count) || count < 0 || count > 1000) {
        res.status(400).json({ message: 'count: must be an integer 0-1000' });
        return;
      }
      this.failing = { status, count };
      res.json(this.failing);
    });
    return r;
  }

  /** Makes the next `count` deliveries answer `status` (0: drop the connection). */
  fail(status: number, count: number): void {
    this.failing = { status, count };
  }

  private receive(req: Request, res: Response): void {
    const headers = {
      'webhook-id': req.get('webhook-id') ?? '',
      'webhook-timestamp': req.get('webhook-timestamp') ?? '',
      'webhook-signature': req.get('webhook-signature') ?? '',
    };
    const entry: ReceivedEvent = {
      webhookId: headers['webhook-id'],
      webhookTimestamp: headers['webhook-timestamp'],
      verified: false,
      answered: 401,
      receivedAt: new Date().toISOString(),
    };
    this.received.push(entry);
    keepLast(this.received, MAX_KEPT);
    if (this.failing.count > 0) {
      this.failing.count--;
      entry.answered = this.failing.status;
      entry.error = `sandbox chaos: answered ${this.failing.status || 'nothing (connection dropped)'}`;
      if (this.failing.status === 0) req.socket.destroy();
      else res.status(this.failing.status).json({ error: 'sandbox chaos' });
      return;
    }
    const raw = (req as Request & { rawBody?: Buffer }).rawBody?.toString('utf8') ?? '';
    const client = (req.body as { data?: { client?: unknown } } | undefined)?.data?.client;
    const secret = typeof client === 'string' ? this.opts.secrets()[client] : undefined;
    try {
      if (!secret) throw new WebhookVerificationError(`no events secret for client ${String(client)}`);
      entry.event = new Webhook(secret).verify(raw, headers) as ReceivedEvent['event'];
      entry.verified = true;
      entry.answered = 204;
      res.status(204).end();
    } catch (err) {
      entry.error = (err as Error).message;
      res.status(401).json({ error: 'signature did not verify' });
    }
  }
}
