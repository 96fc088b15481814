import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setLogLevel, setLogSink } from "../../src/log.js";
import type { NodeInfo, VirtualTree } from "../../src/tree/virtual-tree.js";
import {
  buildSampleTree,
  propfind,
  runCurl,
  startShare,
  type RunningShare,
} from "./share-fixture.js";

const run = promisify(execFile);

/** A tree whose every call fails with a plain Error, like a bug in the tree code would. */
class BrokenTree implements VirtualTree {
  stat(): Promise<NodeInfo> {
    throw new TypeError("cannot read properties of undefined (reading 'layers')");
  }
  async list(): Promise<NodeInfo[]> {
    throw new TypeError("list exploded");
  }
  async read(): Promise<never> {
    throw new TypeError("read exploded");
  }
}

describe("logging and unexpected errors", () => {
  let share: RunningShare;
  const lines: string[] = [];

  beforeAll(async () => {
    setLogSink((line) => lines.push(line));
    setLogLevel("debug");
    share = await startShare({ tree: new BrokenTree() });
  });

  afterAll(async () => {
    setLogLevel("warn");
    await share.close();
  });

  it("unexpected tree error is 500 with a generic body", async () => {
    for (const response of [
      await fetch(`${share.origin}/some/file`),
      await propfind(`${share.origin}/some/`, "1"),
    ]) {
      expect(response.status).toBe(500);
      const body = await response.text();
      expect(body).toContain("internal server error");
      expect(body).not.toContain("layers");
    }
  });

  it("unexpected error is logged with the path", async () => {
    await (await fetch(`${share.origin}/logged/path.txt`)).text();
    const line = lines.find(
      (candidate) => candidate.includes("ERROR") && candidate.includes("/logged/path.txt"),
    );
    expect(line).toBeDefined();
    expect(line).toContain("reading 'layers'");
  });

  it("each request gets one debug line", async () => {
    await (await fetch(`${share.origin}/counted?token=secret`, { method: "OPTIONS" })).text();
    const matching = lines.filter(
      (line) => line.includes("DEBUG request ") && line.includes("path=/counted"),
    );
    expect(matching).toHaveLength(1);
    expect(matching[0]).toMatch(/method=OPTIONS path=\/counted status=200 ms=\d+/);
    expect(matching[0]).not.toContain("secret");
  });
});

describe("HTTPS", () => {
  let share: RunningShare;
  let folder: string;
  let certPath: string;

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), "regdav-tls-"));
    certPath = join(folder, "cert.pem");
    const keyPath = join(folder, "key.pem");
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ]);
    const tls = { cert: await readFile(certPath), key: await readFile(keyPath) };
    share = await startShare({ tree: buildSampleTree(), tls });
  });

  afterAll(async () => {
    await share.close();
    await rm(folder, { recursive: true, force: true });
  });

  it("serves GET and PROPFIND over TLS", async () => {
    expect(share.origin.startsWith("https://")).toBe(true);
    const get = await runCurl(["--cacert", certPath, `${share.origin}/typed.json`]);
    expect(get.exitCode, get.stderr).toBe(0);
    expect(get.stdout.toString()).toBe('{"a":1}\n');

    const listing = await runCurl([
      "--cacert",
      certPath,
      "--request",
      "PROPFIND",
      "--header",
      "Depth: 1",
      `${share.origin}/tricky/`,
    ]);
    expect(listing.exitCode, listing.stderr).toBe(0);
    expect(listing.stdout.toString()).toContain("<D:href>/tricky/a%23b</D:href>");
  });
});
