import http from "node:http";
import type { AddressInfo } from "node:net";

export interface CountingProxy {
  /** `127.0.0.1:PORT`, to give regdav as the registry name. */
  readonly host: string;
  /** `METHOD path` of every request forwarded since the last reset. */
  requests(): string[];
  reset(): void;
  stop(): Promise<void>;
}

/**
 * Starts an HTTP proxy on a loopback port that forwards every request to
 * the registry at `target` (`127.0.0.1:PORT`) and records it, so a test can
 * tell whether a WebDAV request reached the registry.
 */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  let seen: string[] = [];
  const server = http.createServer((request, response) => {
    seen.push(`${request.method} ${request.url}`);
    const upstream = http.request(
      `http://${target}${request.url ?? "/"}`,
      { method: request.method, headers: { ...request.headers, host: target } },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on("error", (error) => {
      response.writeHead(502).end(`proxy could not reach ${target}: ${error.message}`);
    });
    request.pipe(upstream);
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    requests: () => [...seen],
    reset: () => {
      seen = [];
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
