import express, { type Request, type Response, type Router } from 'express';
import { escapeHtml } from './html';
import type { SubmissionOptions } from './stripe-identity-emulator';

/** A verification session as the hosted page shows it (never its client secret or outputs). */
export interface HostedPageSession {
  id: string;
  type: string;
  status: string;
  /** The redaction's status once one was asked for (`processing`, `redacted`). */
  redaction: string | null;
  lastError: { code: string; reason: string } | null;
  returnUrl: string | null;
  /** The outcomes a person may choose for this session (its type and options decide). */
  outcomes: readonly string[];
}

/** A submission as the emulator answers it: the session view, or the Stripe error it was refused with. */
export type HostedPageSubmission =
  { ok: true; session: unknown } | { ok: false; status: number; error: { message: string } };

/** What the page needs from the Stripe Identity emulator. */
export interface HostedPageBackend {
  /** The emulator's base URL as seen from outside (`…/sandbox/stripe`). */
  publicBaseUrl(): string;
  session(id: string): HostedPageSession | undefined;
  submit(id: string, outcome: string, options: SubmissionOptions): HostedPageSubmission;
}

/** The session's `url`: the hosted page of session `id` under the emulator's base URL. */
export function hostedPageUrl(publicBaseUrl: string, id: string): string {
  return `${publicBaseUrl}/verify/${encodeURIComponent(id)}`;
}

/**
 * The hosted verification page of the Stripe Identity emulator (a session's `url`), standing in for Stripe's: no
 * document is uploaded, a person picks what Stripe would conclude. `GET /verify/:id` shows the session and, while it
 * waits on the user, one button per outcome; `POST /verify/:id` submits (a form post is answered with a redirect back
 * to the page, a JSON post `{outcome, eventOrder?, deliveries?}` — what tests send — with the session or the error).
 */
export function stripeHostedPage(backend: HostedPageBackend): Router {
  const r = express.Router();
  r.get('/verify/:id', (req, res) => {
    const s = backend.session(String(req.params.id));
    res
      .status(s ? 200 : 404)
      .type('html')
      .set('Cache-Control', 'no-store')
      .send(renderPage(s));
  });
  r.post(
    '/verify/:id',
    express.json({ limit: '10kb' }),
    express.urlencoded({ extended: true, limit: '100kb' }),
    (req, res) => submit(backend, req, res),
  );
  return r;
}

function submit(backend: HostedPageBackend, req: Request, res: Response): void {
  const wantsJson = req.is('application/json') === 'application/json';
  const body: Record<string, unknown> = req.body && typeof req.body === 'object' ? req.body : {};
  const id = String(req.params.id);
  const result = backend.submit(id, body.outcome as string, {
    eventOrder: body.eventOrder === 'reversed' ? 'reversed' : 'normal',
    deliveries: typeof body.deliveries === 'number' ? body.deliveries : undefined,
  });
  if (result.ok) {
    if (wantsJson) res.json(result.session);
    else res.redirect(303, hostedPageUrl(backend.publicBaseUrl(), id));
    return;
  }
  if (wantsJson) {
    res.status(result.status).json({ error: result.error });
    return;
  }
  res
    .status(result.status)
    .type('html')
    .send(renderPage(backend.session(id), result.error.message));
}

/** The page: the session's status and, while it waits on the user, one button per outcome. */
function renderPage(s: HostedPageSession | undefined, error?: string): string {
  const head = (refresh: boolean) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
${refresh ? '<meta http-equiv="refresh" content="1">' : ''}
<title>Sandbox identity verification</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 40rem; }
form { display: inline; }
button { margin: 0.2rem; padding: 0.4rem 0.8rem; }
.error { color: #b00020; }
code { background: #f3f3f3; padding: 0 0.2rem; }
</style>
</head>
<body>
<h1>Sandbox identity verification</h1>
<p>Stripe Identity emulator: no document is uploaded; choose what Stripe would conclude.</p>`;
  if (!s) return `${head(false)}<p class="error">No such verification session.</p></body></html>\n`;
  const waiting = s.status === 'requires_input' && !s.redaction;
  const buttons = waiting
    ? s.outcomes
        .map(
          (o) =>
            `<form method="post"><input type="hidden" name="outcome" value="${o}"><button type="submit">${escapeHtml(o.replace(/_/g, ' '))}</button></form>`,
        )
        .join('\n')
    : '';
  const back = s.returnUrl && !waiting ? `<p><a href="${escapeHtml(s.returnUrl)}">Return to the app</a></p>` : '';
  return `${head(s.status === 'processing')}
<p>Session <code>${escapeHtml(s.id)}</code> (${escapeHtml(s.type)}): <strong>${escapeHtml(s.redaction ? `redaction ${s.redaction}` : s.status)}</strong>${
    s.lastError ? `, last error <code>${escapeHtml(s.lastError.code)}</code> — ${escapeHtml(s.lastError.reason)}` : ''
  }</p>
${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}
${waiting ? `<h2>Submit with the outcome</h2>\n${buttons}` : ''}
${back}
</body>
</html>
`;
}
