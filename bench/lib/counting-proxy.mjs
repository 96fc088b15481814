// A forwarding HTTP proxy between regdav and the registry that counts the
// requests and the response body bytes, so a suite can report how much a
// read fetched from the registry.
import { request as httpRequest, createServer } from "node:http";

/**
 * Starts a proxy on a free loopback port that forwards every request to
 * `upstreamHost` (HOST:PORT, plain HTTP). Returns its `host`, `counts()` of
 * the requests and response body bytes since the last `reset()`, and
 * `stop()`.
 */
export async function startCountingProxy(upstreamHost) {
  const [upstreamName, upstreamPort] = splitHost(upstreamHost);
  let requests = [];
  const server = createServer((incoming, outgoing) => {
    const record = { method: incoming.method, url: incoming.url, range: incoming.headers.range, status: 0, bytes: 0 };
    requests.push(record);
    const headers = { ...incoming.headers, host: upstreamHost };
    const forwarded = httpRequest(
      { host: upstreamName, port: upstreamPort, method: incoming.method, path: incoming.url, headers },
      (response) => {
        record.status = response.statusCode ?? 0;
        outgoing.writeHead(record.status, response.headers);
        response.on("data", (chunk) => (record.bytes += chunk.length));
        response.pipe(outgoing);
      },
    );
    forwarded.on("error", (error) => outgoing.destroy(error));
    incoming.pipe(forwarded);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  return {
    host: `127.0.0.1:${port}`,
    reset: () => (requests = []),
    counts: () => ({
      requests: requests.length,
      bytes: requests.reduce((sum, record) => sum + record.bytes, 0),
      list: [...requests],
    }),
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function splitHost(host) {
  const colon = host.lastIndexOf(":");
  return [host.slice(0, colon), Number(host.slice(colon + 1))];
}
