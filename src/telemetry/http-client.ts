import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { context, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';

/** A path segment that could hold a phone number, an e-mail address or a token: never put in an attribute. */
const UNSAFE_SEGMENT = /[+@=]|%2b|%40|%3d|^\d{6,}$/i;

/**
 * The path of an outgoing request as a span may show it: no query string, and `{redacted}` for any segment that could
 * carry a phone number, an address or a secret (provider IDs in paths stay: they are what an operator looks up).
 */
export function safePath(path: string): string {
  return (path.split('?')[0] || '/')
    .split('/')
    .map((segment) => (UNSAFE_SEGMENT.test(segment) ? '{redacted}' : segment))
    .join('/');
}

interface UndiciRequest {
  origin: string | URL;
  method: string;
  path: string;
}

/**
 * Traces the HTTP calls this process makes inside a span — in practice the provider calls of activities (Vonage,
 * Stripe, Twilio, SMS gateways) — as CLIENT spans `POST` with method, host, port, safe path and status: node:http
 * (which the provider SDKs use) and fetch (undici), through Node's diagnostics channels, so nothing is patched. A call
 * made outside any span starts no trace. No header is added: providers do not join our traces. Returns the
 * unsubscribe.
 */
export function traceHttpClients(tracer: Tracer): () => void {
  const undiciSpans = new WeakMap<object, { span: Span; status?: number }>();
  const begin = (method: string, url: URL, path: string): Span | undefined => {
    const parent = context.active();
    if (!trace.getSpan(parent)) return undefined;
    return tracer.startSpan(
      method,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'http.request.method': method,
          'server.address': url.hostname,
          'server.port': Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
          'url.scheme': url.protocol.replace(':', ''),
          'url.path': safePath(path),
        },
      },
      parent,
    );
  };
  const end = (span: Span, status: number | undefined, error?: unknown): void => {
    if (status !== undefined) span.setAttribute('http.response.status_code', status);
    if (error !== undefined || (status ?? 0) >= 400) {
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.name : status ? `HTTP ${status}` : 'failed',
      });
    }
    span.end();
  };

  const onHttpStart = (message: unknown): void => {
    const request = (message as { request: ClientRequest }).request;
    const protocol = request.protocol ?? 'http:';
    const host = request.host ?? 'localhost';
    let span: Span | undefined;
    try {
      span = begin(request.method, new URL(`${protocol}//${host}`), request.path);
    } catch {
      return;
    }
    if (!span) return;
    let status: number | undefined;
    let ended = false;
    const finish = (error?: unknown) => {
      if (ended) return;
      ended = true;
      end(span, status, error);
    };
    request.once('response', (response: IncomingMessage) => {
      status = response.statusCode;
    });
    request.once('error', (err) => finish(err));
    request.once('close', () => finish());
  };
  const onUndiciCreate = (message: unknown): void => {
    const request = (message as { request: UndiciRequest }).request;
    try {
      const span = begin(request.method, new URL(String(request.origin)), request.path);
      if (span) undiciSpans.set(request, { span });
    } catch {
      // not a URL we can describe: untraced
    }
  };
  const onUndiciHeaders = (message: unknown): void => {
    const { request, response } = message as { request: object; response: { statusCode: number } };
    const call = undiciSpans.get(request);
    if (call) call.status = response.statusCode;
  };
  const onUndiciDone = (message: unknown): void => {
    const { request, error } = message as { request: object; error?: unknown };
    const call = undiciSpans.get(request);
    if (!call) return;
    undiciSpans.delete(request);
    end(call.span, call.status, error);
  };

  const channels: [string, (message: unknown) => void][] = [
    ['http.client.request.start', onHttpStart],
    ['undici:request:create', onUndiciCreate],
    ['undici:request:headers', onUndiciHeaders],
    ['undici:request:trailers', onUndiciDone],
    ['undici:request:error', onUndiciDone],
  ];
  for (const [name, fn] of channels) subscribe(name, fn);
  return () => {
    for (const [name, fn] of channels) unsubscribe(name, fn);
  };
}
