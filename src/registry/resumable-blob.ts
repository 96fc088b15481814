import { Readable } from "node:stream";

import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import { displayUrl, headerValue, transportError, type HttpResponse } from "./http.js";
import { RegistryResponseError } from "./registry-errors.js";

/**
 * The bounds on resuming a blob download that breaks off. A failure is any
 * error of the body stream (reset, closed early, idle timeout), or a resume
 * request that gets no response. A resume request that gets a 5xx or a 429
 * is retried by the registry client's own retry policy (retry.ts) first.
 */
export interface ResumePolicy {
  /** Failures in a row that are resumed. The next one fails the download. */
  maxAttempts: number;
  /** Total resumes of one download, however much each one made progress. */
  maxResumes: number;
  /** Delay before the first resume of a row, doubled for each later one. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Bytes a resumed body must deliver before its failure starts a new row. */
  progressBytes: number;
}

export const defaultResumePolicy: Readonly<ResumePolicy> = {
  maxAttempts: 5,
  maxResumes: 50,
  baseDelayMs: 250,
  maxDelayMs: 4_000,
  progressBytes: 1024 * 1024,
};

export interface ResumableBlobRequest {
  /** The first response, status 200, whose body is read first. */
  first: HttpResponse;
  /** Sends `GET` with `Range: bytes=OFFSET-` and returns its 2xx response, or throws. */
  reopen: (offset: number) => Promise<HttpResponse>;
  /** The blob's size, when its descriptor gives one. */
  size?: number;
  /** Names the blob in messages, such as `blob sha256:ab12... of library/debian`. */
  label: string;
}

/**
 * Returns the bytes of a blob as one stream that resumes after a broken
 * download with a Range request from the first byte not yet received.
 * A registry that ignores Range sends the whole blob again, and the bytes
 * already passed on are skipped. The caller still verifies the digest over
 * the whole stream, so a resumed part that does not fit fails that check.
 */
export function resumableBlob(
  request: ResumableBlobRequest,
  policy: ResumePolicy = defaultResumePolicy,
): Readable {
  return new ResumableBlob(request, policy);
}

class ResumableBlob extends Readable {
  private body: Readable;
  private offset = 0;
  /** Bytes still to drop from the current body, when the registry ignored Range. */
  private skip = 0;
  private attempts = 0;
  private resumes = 0;
  /** Offset when the current body started, for the progress rule. */
  private bodyStart = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly request: ResumableBlobRequest,
    private readonly policy: ResumePolicy,
  ) {
    super();
    this.body = request.first.body;
    this.attach(this.body);
  }

  override _read(): void {
    this.body.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.timer);
    this.body.destroy();
    callback(error);
  }

  private attach(body: Readable): void {
    body.on("data", (chunk: Buffer) => this.receive(body, chunk));
    body.on("end", () => {
      if (body === this.body && !this.destroyed) this.push(null);
    });
    body.on("error", (error) => {
      if (body === this.body && !this.destroyed) this.recover(error);
    });
  }

  private receive(body: Readable, chunk: Buffer): void {
    if (body !== this.body || this.destroyed) return;
    if (this.skip > 0) {
      const dropped = Math.min(this.skip, chunk.length);
      this.skip -= dropped;
      chunk = chunk.subarray(dropped);
      if (chunk.length === 0) return;
    }
    this.offset += chunk.length;
    if (!this.push(chunk)) body.pause();
  }

  /** Schedules a resume after a failure, or fails the stream when the policy allows no more. */
  private recover(failure: unknown): void {
    if (this.offset - this.bodyStart >= this.policy.progressBytes) this.attempts = 0;
    this.attempts++;
    this.resumes++;
    const error = transportError("GET", displayUrl(this.request.first.url), failure);
    if (this.attempts > this.policy.maxAttempts || this.resumes > this.policy.maxResumes) {
      this.destroy(this.gaveUp(error));
      return;
    }

    const delayMs = backoffDelay(this.attempts, this.policy);
    log.info("blob download broke off, resuming", {
      blob: this.request.label,
      offset: this.offset,
      attempt: this.attempts,
      delayMs,
      error: error.message,
    });
    this.timer = setTimeout(() => void this.reopen(), delayMs);
  }

  private async reopen(): Promise<void> {
    this.bodyStart = this.offset;
    let response: HttpResponse;
    try {
      response = await this.request.reopen(this.offset);
    } catch (error) {
      if (this.destroyed) return;
      if (!isRetriable(error)) this.destroy(error as Error);
      else this.recover(error);
      return;
    }
    if (this.destroyed) {
      response.body.destroy();
      return;
    }

    try {
      this.skip = this.bytesToSkip(response);
    } catch (error) {
      response.body.destroy();
      this.destroy(error as Error);
      return;
    }
    this.body.destroy();
    this.body = response.body;
    this.attach(this.body);
  }

  /**
   * Returns how many bytes of the resumed response to drop: 0 for a 206
   * that starts at the offset, the offset for a 200 with the whole blob.
   */
  private bytesToSkip(response: HttpResponse): number {
    if (response.status === 200) {
      log.debug("registry ignored Range, skipping the bytes already received", {
        blob: this.request.label,
        offset: this.offset,
      });
      return this.offset;
    }
    const range = headerValue(response.headers, "content-range") ?? "";
    const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(range.trim());
    const total = match?.[3] === "*" ? undefined : Number(match?.[3]);
    const fits =
      this.request.size === undefined || total === undefined || total === this.request.size;
    if (response.status !== 206 || Number(match?.[1]) !== this.offset || !fits) {
      const sent = `${response.status}, Content-Range ${JSON.stringify(range)}`;
      return this.fail(`resuming at byte ${this.offset} got ${sent}`);
    }
    return 0;
  }

  private fail(problem: string): never {
    throw new RegdavError("REGISTRY_ERROR", `${this.request.label}: ${problem}`);
  }

  private gaveUp(error: RegdavError): RegdavError {
    const message =
      `${this.request.label}: download failed at byte ${this.offset} after ` +
      `${this.resumes - 1} resumes: ${error.message}`;
    return new RegdavError(error.code, message, { cause: error });
  }
}

/**
 * Returns the delay before attempt `attempt` (1 for the first resume):
 * exponential with "equal jitter", a random value between half and all of
 * `baseDelayMs * 2^(attempt-1)`, capped at `maxDelayMs`. The jitter keeps
 * many broken downloads from retrying at the same moment.
 */
export function backoffDelay(attempt: number, policy: ResumePolicy): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/**
 * Tests whether a failed resume request is worth another resume: only when
 * it got no response. An error status has been retried by the client already.
 */
function isRetriable(error: unknown): boolean {
  if (error instanceof RegistryResponseError || !(error instanceof RegdavError)) return false;
  return error.code === "REGISTRY_UNREACHABLE" || error.code === "TIMEOUT";
}
