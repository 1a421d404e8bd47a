import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** The routes that get a server span: the REST API, the provider webhooks and the inbound SMS gateway. */
const TRACED = /^\/(?:v1|webhooks|sms-gateway)(?:\/|$)/;

/**
 * One SERVER span per request to the API, the webhooks and the inbound SMS gateway, named `METHOD /route/:template`
 * and continuing the caller's W3C trace context. Everything the request does runs in its context — guards, the
 * Temporal client calls (their interceptors make the child spans and carry the context into the workflow) — so the
 * request's trace reaches the workflow, its activities and their provider calls. Attributes: method, route template,
 * status; never the URL, a header or a body (ids, numbers, codes, secrets stay out). Health, metrics, docs, the codec
 * server and the sandbox's emulators are not traced.
 */
export function traceHttpRequests(tracer: Tracer): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!TRACED.test(req.path)) return next();
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer.startSpan(
      req.method,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method, 'url.scheme': req.protocol } },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    // Body parsers and Nest call back from stream events: bind them to the request's context.
    context.bind(ctx, req);
    context.bind(ctx, res);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      const route = routeOf(req);
      if (route) {
        span.setAttribute('http.route', route);
        span.updateName(`${req.method} ${route}`);
      }
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${res.statusCode}` });
      span.end();
    };
    res.once('finish', end);
    res.once('close', end);
    context.with(ctx, next);
  };
}

/** The matched route's template (`/v1/verifications/:id/check`), never the path with its IDs. */
function routeOf(req: Request): string | undefined {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? `${req.baseUrl ?? ''}${path}` : undefined;
}
