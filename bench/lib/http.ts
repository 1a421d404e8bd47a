/** One HTTP exchange, timed (ms, from the first byte sent to the whole body read). */
export interface Exchange<T = unknown> {
  status: number;
  body: T;
  ms: number;
}

/** JSON over HTTP with a timing; network errors become status 0 (the chaos runs count them, never throw). */
export async function http<T = Record<string, unknown>>(
  method: 'GET' | 'POST',
  url: string,
  body?: unknown,
  timeoutMs = 60_000,
  headers: Record<string, string> = {},
): Promise<Exchange<T>> {
  const started = performance.now();
  try {
    const res = await fetch(url, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed as T, ms: performance.now() - started };
  } catch (err) {
    return { status: 0, body: { error: (err as Error).message } as T, ms: performance.now() - started };
  }
}
