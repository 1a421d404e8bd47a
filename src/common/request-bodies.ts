import { STATUS_CODES } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { HttpException, UnsupportedMediaTypeException } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';

/** Body size limits: the codec server decodes whole history pages for the Web UI; everything else stays small. */
const CODEC_LIMIT = '4mb';
const LIMIT = '64kb';

/**
 * Installs the request body parsers (the app is created with `bodyParser: false`, so Nest adds none of its own):
 * - `/v1/*` (the REST API) takes JSON only: any other body is a 415 before it is read, so a form post from another web
 *   page (a "simple" cross-site request, no CORS preflight) cannot start or drive a verification;
 * - JSON everywhere else, raw bytes kept (`req.rawBody`) for webhook signatures;
 * - form bodies only under `/webhooks`: Twilio posts its webhooks form-encoded, Vonage SMS receipts may be; flat
 *   keys only (no `a[b]` nesting);
 * - the sandbox emulators (`/sandbox/*`) parse what their SDKs send with their own routers.
 * Parser errors (too large, malformed JSON, unsupported charset…) become their 4xx HttpException (see
 * `bodyParserError`) through `translateBodyErrors`, which the caller installs after the last router.
 */
export function installBodyParsers(app: NestExpressApplication): void {
  app.use('/v1', requireJsonBody);
  app.use('/codec', express.json({ limit: CODEC_LIMIT }));
  app.useBodyParser('json', { limit: LIMIT });
  app.use('/webhooks', express.urlencoded({ extended: false, limit: LIMIT, verify: keepRawBody }));
}

/** What Nest's own parsers do with `rawBody: true`: keep the exact bytes for signature checks. */
function keepRawBody(req: IncomingMessage, _res: unknown, buffer: Buffer): void {
  (req as IncomingMessage & { rawBody?: Buffer }).rawBody = buffer;
}

/** 415 for a request that carries a body other than `application/json`; requests without a body pass. */
export const requireJsonBody: RequestHandler = (req, _res, next) => {
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && Number(length) !== 0);
  if (!hasBody || req.is('application/json')) return next();
  const given = mediaType(req.headers['content-type']);
  next(
    new UnsupportedMediaTypeException(
      `body: must be sent as application/json (${given ? `got ${given}` : 'no content-type'})`,
    ),
  );
};

/** The media type of a Content-Type header, without parameters, trimmed to something safe to echo and log. */
function mediaType(header: string | undefined): string | undefined {
  const type = header?.split(';')[0].trim().toLowerCase();
  return type ? type.replace(/[^\w.+/-]/g, '?').slice(0, 80) : undefined;
}

/** The error types of body-parser / raw-body, with the 4xx message to answer. */
const MESSAGES: Record<string, (err: BodyParserError) => string> = {
  'entity.too.large': (err) => `body: larger than the limit of ${err.limit ?? '?'} bytes`,
  // The parser's own message quotes the body: only the position is kept (the body may hold a phone number).
  'entity.parse.failed': (err) => {
    const at = /position (\d+)/.exec(err.message)?.[1];
    return `body: malformed JSON${at ? ` at position ${at}` : ''}`;
  },
  'charset.unsupported': (err) => `body: unsupported charset "${safe(err.charset)}" (send UTF-8)`,
  'encoding.unsupported': (err) => `body: unsupported content encoding "${safe(err.encoding)}"`,
  'parameters.too.many': () => 'body: too many parameters',
  'request.aborted': () => 'body: the request was aborted before it was complete',
  'request.size.invalid': () => 'body: its size does not match Content-Length',
};

interface BodyParserError extends Error {
  type?: unknown;
  status?: unknown;
  statusCode?: unknown;
  expose?: unknown;
  limit?: number;
  charset?: string;
  encoding?: string;
}

const safe = (v: unknown): string =>
  String(v ?? '')
    .replace(/[^\w.-]/g, '?')
    .slice(0, 40);

/**
 * The HttpException for an error of express's body parsers (or any http-errors 4xx meant for the client), so it is
 * answered with its own status in Nest's JSON shape instead of a 500; undefined for anything else.
 */
export function bodyParserError(err: unknown): HttpException | undefined {
  if (!(err instanceof Error) || err instanceof HttpException) return undefined;
  const e = err as BodyParserError;
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 0;
  if (status < 400 || status > 499 || e.expose === false) return undefined;
  const type = typeof e.type === 'string' ? e.type : '';
  const message = MESSAGES[type]?.(e) ?? (type ? `body: ${e.message}` : e.message);
  // The body Nest's own exceptions have (e.g. PayloadTooLargeException): {statusCode, message, error}.
  return new HttpException({ statusCode: status, message, error: STATUS_CODES[status] }, status, { cause: err });
}

/**
 * Express error middleware: parser errors become HttpExceptions before Nest's error handler sees them (Nest would
 * answer a JSON SyntaxError with the parser's message, which quotes the body, and any other one with a 500).
 */
export const translateBodyErrors: ErrorRequestHandler = (err, _req, _res, next) => {
  next(bodyParserError(err) ?? err);
};
