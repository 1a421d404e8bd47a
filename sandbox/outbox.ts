import express, { type Request, type Response, type Router } from 'express';
import { escapeHtml } from './html';
import { keepLast } from './retention';

/** One message a sandbox emulator "sent" (codes included: the outbox exists only in the sandbox). */
export interface OutboxEntry {
  provider: string;
  channel: string;
  to: string;
  body: string;
  code: string;
  /** ISO timestamp. */
  at: string;
  /** Provider request id (e.g. the Vonage request_id). */
  ref?: string;
}

const MAX_ENTRIES = 1000;

/** Phone numbers compare by digits ("+1 500…" and "1500…" match), anything else (e-mail) case-insensitively. */
function normalizeDestination(to: string): string {
  const trimmed = to.trim();
  return trimmed.includes('@') ? trimmed.toLowerCase() : trimmed.replace(/\D/g, '');
}

/**
 * In-memory record of the messages the provider emulators would have delivered, so a developer or a
 * test can read the code a user would have received. Bounded to the last 1000 entries.
 */
export class Outbox {
  private entries: OutboxEntry[] = [];

  add(e: Omit<OutboxEntry, 'at'> & { at?: string }): OutboxEntry {
    const entry: OutboxEntry = { ...e, at: e.at ?? new Date().toISOString() };
    this.entries.push(entry);
    keepLast(this.entries, MAX_ENTRIES);
    return entry;
  }

  /** Entries oldest first (newest last), optionally filtered by destination and provider. */
  list(filter: { to?: string; provider?: string } = {}): OutboxEntry[] {
    const to = filter.to ? normalizeDestination(filter.to) : undefined;
    return this.entries.filter(
      (e) => (!to || normalizeDestination(e.to) === to) && (!filter.provider || e.provider === filter.provider),
    );
  }

  clear(): void {
    this.entries = [];
  }
}

function renderHtml(entries: OutboxEntry[]): string {
  const columns = ['at', 'provider', 'channel', 'to', 'body', 'code'] as const;
  const head = columns.map((c) => `<th>${c}</th>`).join('');
  const rows = entries
    .slice()
    .reverse()
    .map((e) => `<tr>${columns.map((c) => `<td>${escapeHtml(e[c])}</td>`).join('')}</tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="2">
<title>Sandbox outbox</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td:last-child { font-family: monospace; font-weight: bold; }
</style>
</head>
<body>
<h1>Sandbox outbox</h1>
<p>${entries.length} message(s), newest first. Sandbox only: these codes were never really sent.</p>
<table>
<thead><tr>${head}</tr></thead>
<tbody>
${rows || `<tr><td colspan="${columns.length}">No messages yet.</td></tr>`}
</tbody>
</table>
</body>
</html>
`;
}

function queryString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * Express router (mounted at `/sandbox/outbox`) exposing the outbox: `GET /` answers JSON (filters `?to=`
 * and `?provider=`), or the HTML page when the client prefers HTML; `GET /html` always answers the page.
 */
export function createOutboxRouter(outbox: Outbox): Router {
  const router = express.Router();
  const entries = (req: Request) =>
    outbox.list({ to: queryString(req.query.to), provider: queryString(req.query.provider) });
  const sendHtml = (req: Request, res: Response) => {
    res
      .type('html')
      .set('Cache-Control', 'no-store')
      .send(renderHtml(entries(req)));
  };
  router.get('/html', sendHtml);
  router.get('/', (req, res) => {
    if (req.accepts(['json', 'html']) === 'html') return sendHtml(req, res);
    res.set('Cache-Control', 'no-store').json(entries(req));
  });
  return router;
}
