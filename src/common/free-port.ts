import { createServer } from 'node:net';

/**
 * Ports we hand out come from below the usual ephemeral ranges (Linux 32768–60999, macOS/Windows 49152–65535).
 * Asking the OS for port 0 would give one from the ephemeral range, and between our probe and the real listen,
 * anything else that asks the OS for a port (the Temporal dev server's internal services, every outgoing
 * connection) may be given the same one; then the API dies with EADDRINUSE. Below that range nobody is handed
 * ports implicitly.
 */
const LOW = 20_000;
const HIGH = 32_000;
const handedOut = new Set<number>();

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port free on 127.0.0.1 now, outside the ephemeral range, and not handed out before by this process. The tests
 * (test/support/ports.ts) and the benchmark drivers (bench/lib/util.ts) both hand out ports with it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free TCP port on 127.0.0.1 between ${LOW} and ${HIGH}`);
}
