import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A node:http server on a free loopback port that records every request,
 * for tests of behaviour the real registry cannot show: token challenges,
 * redirects to storage, oversized or corrupt responses.
 */
export interface RecordedRequest {
  method: string;
  /** Path with query, as sent. */
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

export interface FakeServer {
  /** `127.0.0.1:PORT`. */
  host: string;
  /** `http://127.0.0.1:PORT`. */
  origin: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export type Handler = (
  request: RecordedRequest,
  response: ServerResponse,
  server: FakeServer,
) => void | Promise<void>;

export async function startFakeServer(handler: Handler): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  const fake = { requests } as FakeServer;

  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.on("end", () => {
      const recorded: RecordedRequest = {
        method: incoming.method ?? "",
        url: incoming.url ?? "",
        headers: incoming.headers,
        body: Buffer.concat(chunks).toString(),
      };
      requests.push(recorded);
      Promise.resolve(handler(recorded, response, fake)).catch((error: unknown) => {
        response.statusCode = 500;
        response.end(String(error));
      });
    });
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  fake.host = `127.0.0.1:${port}`;
  fake.origin = `http://${fake.host}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers = {}) {
  response.writeHead(status, { "content-type": "application/json", ...headers });
  response.end(JSON.stringify(body));
}

/** Returns the requests whose path starts with `prefix`. */
export function requestsTo(server: FakeServer, prefix: string): RecordedRequest[] {
  return server.requests.filter((request) => request.url.startsWith(prefix));
}
