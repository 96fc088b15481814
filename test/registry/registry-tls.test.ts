import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { RegdavError } from "../../src/errors.js";
import { RegistrySource } from "../../src/registry/registry-source.js";
import { pushBlob, startTestRegistry, type TestRegistry } from "./test-registry.js";

/**
 * The real registry over HTTPS with a self-signed certificate: an insecure
 * registry skips verification, and a loopback one that is not insecure
 * fails verification and then finds no plain-HTTP registry either.
 */
let directory: string;
let registry: TestRegistry;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "regdav-tls-"));
  const certificateFile = join(directory, "cert.pem");
  const keyFile = join(directory, "key.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certificateFile,
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );

  registry = await startTestRegistry({ tls: { certificateFile, keyFile } });
  await pushBlob(registry, "secure/app", Buffer.from("x"));
});

afterAll(async () => {
  await registry?.stop();
  await rm(directory, { recursive: true, force: true });
});

describe("registry over HTTPS", () => {
  it("works when insecure", async () => {
    const source = new RegistrySource({ name: registry.host, insecure: true });
    const repositories = await source.listRepositories();
    await source.close();
    expect(repositories).toEqual(["secure/app"]);
  });

  it("rejects an unverified certificate otherwise", async () => {
    const source = new RegistrySource({ name: registry.host, insecure: false });
    let error: unknown;
    try {
      await source.listRepositories();
    } catch (caught) {
      error = caught;
    }
    await source.close();

    expect(error).toBeInstanceOf(RegdavError);
    const message = (error as RegdavError).message;
    expect(message).toContain(`https://${registry.host}/v2/`);
    expect(message).toMatch(/certificate/i);
    expect(message).toContain("400");
    expect(message).toContain("mark the registry insecure");
  });
});
