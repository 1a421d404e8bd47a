import { isIP } from 'node:net';

/**
 * What a verification costs at a provider, per send: `provider:channel` → price in one currency of your choice (the
 * cost metric is in that currency). A send is a message, call, silent-auth attempt, push challenge or identity
 * session a verification asked a provider for (`verifyflow_sends_total`).
 */
export type PriceTable = Readonly<Record<string, number>>;

/**
 * The default price table: EXAMPLES in US dollars of the order of public list prices, not a quote. Set
 * PROVIDER_PRICES to your contract's rates; a send whose `provider:channel` has no price costs 0.
 */
export const EXAMPLE_PROVIDER_PRICES: PriceTable = {
  'vonage:silent_auth': 0.05,
  'vonage:sms': 0.06,
  'vonage:voice': 0.09,
  'vonage:whatsapp': 0.06,
  'vonage:email': 0.05,
  'sms_gateway:sms': 0.008,
  'twilio:silent_auth': 0.05,
  'twilio:sms': 0.05,
  'twilio:voice': 0.05,
  'twilio:whatsapp': 0.05,
  'twilio:email': 0.05,
  'twilio:push': 0.05,
  'stripe:document': 1.5,
  'stripe:id_number': 0.5,
};

/** Tracing and metrics (README "Operating it"). */
export interface TelemetryConfig {
  /**
   * OpenTelemetry traces over OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT, the collector's base URL; spans go to
   * `<endpoint>/v1/traces`). Unset: tracing is off — no tracer, no interceptors, nothing exported.
   */
  otlp?: { tracesUrl: string; headers: Record<string, string> };
  /** OTEL_SERVICE_NAME; unset, each entry point names itself (verifyflow-api, verifyflow-worker, verifyflow). */
  serviceName?: string;
  /**
   * Where the worker process serves its Prometheus metrics — the Temporal SDK's (task slots, schedule-to-start
   * latency, sticky cache) and the verification metrics its workflows emit (WORKER_METRICS_ADDRESS, `host:port`,
   * default 127.0.0.1:9464; `off` for none).
   */
  workerMetricsAddress?: string;
  /** The price table of the estimated cost per verification (PROVIDER_PRICES). */
  prices: PriceTable;
}

/** The telemetry variables, validated; a bad value throws an Error naming the variable. */
export function loadTelemetryConfig(env: NodeJS.ProcessEnv): TelemetryConfig {
  return {
    otlp: otlp(env.OTEL_EXPORTER_OTLP_ENDPOINT, env.OTEL_EXPORTER_OTLP_HEADERS),
    serviceName: env.OTEL_SERVICE_NAME?.trim() || undefined,
    workerMetricsAddress: metricsAddress(env.WORKER_METRICS_ADDRESS),
    prices: env.PROVIDER_PRICES?.trim() ? parsePrices(env.PROVIDER_PRICES) : EXAMPLE_PROVIDER_PRICES,
  };
}

function otlp(endpoint: string | undefined, headers: string | undefined): TelemetryConfig['otlp'] {
  if (!endpoint?.trim()) return undefined;
  let url: URL;
  try {
    url = new URL(endpoint.trim());
  } catch {
    throw new Error('OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL (the collector, e.g. http://127.0.0.1:4318)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error('OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL (OTLP over HTTP, e.g. http://127.0.0.1:4318)');
  }
  return { tracesUrl: `${url.href.replace(/\/$/, '')}/v1/traces`, headers: parseHeaders(headers) };
}

/** `key=value,key=value` (the OTLP exporters' format), values URL-decoded. */
function parseHeaders(raw: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const part of (raw ?? '').split(',')) {
    if (!part.trim()) continue;
    const at = part.indexOf('=');
    if (at <= 0) throw new Error('OTEL_EXPORTER_OTLP_HEADERS must be key=value pairs separated by commas');
    headers[decodeURIComponent(part.slice(0, at).trim())] = decodeURIComponent(part.slice(at + 1).trim());
  }
  return headers;
}

function metricsAddress(raw: string | undefined): string | undefined {
  const value = raw?.trim() || '127.0.0.1:9464';
  if (value === 'off') return undefined;
  const match = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  if (!match || port < 1 || port > 65535 || !host || (match[1] && isIP(match[1]) !== 6)) {
    throw new Error(`WORKER_METRICS_ADDRESS must be host:port (e.g. 127.0.0.1:9464, [::1]:9464) or off`);
  }
  return value;
}

/** PROVIDER_PRICES: a JSON object `{"provider:channel": price, …}` of non-negative numbers. */
export function parsePrices(raw: string): PriceTable {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error('PROVIDER_PRICES must be a JSON object like {"vonage:sms": 0.06}');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error('PROVIDER_PRICES must be a JSON object like {"vonage:sms": 0.06}');
  }
  const prices: Record<string, number> = {};
  for (const [key, price] of Object.entries(parsed)) {
    if (!/^[a-z_]+:[a-z_]+$/.test(key)) {
      throw new Error(`PROVIDER_PRICES: "${key}" is not provider:channel (e.g. vonage:sms, twilio:push)`);
    }
    if (typeof price !== 'number' || !Number.isFinite(price) || price < 0) {
      throw new Error(`PROVIDER_PRICES: the price of ${key} must be a number ≥ 0`);
    }
    prices[key] = price;
  }
  return prices;
}
