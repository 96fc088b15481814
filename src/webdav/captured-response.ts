import { EventEmitter } from "node:events";

/**
 * A stand-in for http.ServerResponse that webdav-server writes its PROPFIND
 * response into. The share then decides what reaches the client, so
 * webdav-server never touches a real socket and its headers (`DAV: 1,2`, a
 * wildcard CORS origin) are dropped. It implements only the members that
 * webdav-server 2.6.3 uses on this path: header setters, statusCode,
 * statusMessage, write, end and `on("error")`.
 */
export class CapturedResponse extends EventEmitter {
  statusCode = 200;
  statusMessage = "";
  private readonly headers = new Map<string, unknown>();
  private readonly chunks: Buffer[] = [];
  private ended = false;

  constructor(private readonly onEnd: (response: CapturedResponse) => void) {
    super();
  }

  get body(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }

  setHeader(name: string, value: unknown): this {
    this.headers.set(name.toLowerCase(), value);
    return this;
  }

  getHeader(name: string): unknown {
    return this.headers.get(name.toLowerCase());
  }

  hasHeader(name: string): boolean {
    return this.headers.has(name.toLowerCase());
  }

  removeHeader(name: string): void {
    this.headers.delete(name.toLowerCase());
  }

  write(chunk: string | Buffer): boolean {
    this.chunks.push(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk);
    return true;
  }

  end(chunk?: string | Buffer): this {
    if (chunk !== undefined) this.write(chunk);
    if (!this.ended) {
      this.ended = true;
      this.onEnd(this);
    }
    return this;
  }
}
