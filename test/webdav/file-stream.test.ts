import { createServer, get, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";

import { streamExactly } from "../../src/webdav/file-stream.js";

/** What a client received: the body bytes, and whether the transfer ended in an error. */
interface Received {
  body: Buffer;
  failed: boolean;
}

let server: Server | undefined;

afterEach(() => {
  server?.close();
  server = undefined;
});

/** Serves one body from `source` with Content-Length `length`, and fetches it with node:http. */
async function transfer(source: () => Readable, length: number): Promise<Received> {
  server = createServer((_request, response) => {
    response.writeHead(200, { "Content-Length": length });
    streamExactly(source(), response, length).catch(() => undefined);
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve) => {
    get({ host: "127.0.0.1", port, path: "/", agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () =>
        resolve({ body: Buffer.concat(chunks), failed: !response.complete }),
      );
      response.on("error", () => resolve({ body: Buffer.concat(chunks), failed: true }));
    }).on("error", () => resolve({ body: Buffer.alloc(0), failed: true }));
  });
}

describe("streamExactly", () => {
  it("sends a whole body", async () => {
    const bytes = Buffer.from("0123456789");
    const received = await transfer(
      () => Readable.from([bytes.subarray(0, 4), bytes.subarray(4)]),
      10,
    );
    expect(received.failed).toBe(false);
    expect(received.body.equals(bytes)).toBe(true);
  });

  it("holds the last byte until the source ends", async () => {
    // The source sends every byte, then fails a check, as a span does whose CRC-32 covers data
    // past the range.
    const failing = () =>
      Readable.from(
        (async function* () {
          yield Buffer.from("0123456789");
          await new Promise((resolve) => setTimeout(resolve, 50));
          throw new Error("CRC-32 mismatch after the range");
        })(),
      );
    const received = await transfer(failing, 10);
    expect(received.failed).toBe(true);
    expect(received.body.toString()).toBe("012345678");
  });

  it("fails a short source", async () => {
    const received = await transfer(() => Readable.from([Buffer.from("01234")]), 10);
    expect(received.failed).toBe(true);
    expect(received.body.length).toBeLessThan(10);
  });

  it("sends a one-byte body", async () => {
    const received = await transfer(() => Readable.from([Buffer.from("x")]), 1);
    expect(received.failed).toBe(false);
    expect(received.body.toString()).toBe("x");
  });
});
