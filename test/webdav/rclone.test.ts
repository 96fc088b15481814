import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTool } from "../harness/tools.js";
import { sha256Of } from "./memory-tree.js";
import {
  buildSampleTree,
  RANDOM_BYTES,
  startShare,
  TRICKY_NAMES,
  type RunningShare,
} from "./share-fixture.js";

const USERNAME = "reader";
const PASSWORD = "p+a/ss:wo:rd";

interface RcloneResult {
  exitCode: number;
  stdout: Buffer;
  stderr: string;
}

function runRclone(args: string[]): Promise<RcloneResult> {
  // RCLONE_CONFIG points at no file, so no user configuration changes the run.
  const env = { ...process.env, RCLONE_CONFIG: "/nonexistent/rclone.conf" };
  return new Promise((resolve) => {
    execFile(
      "rclone",
      args,
      { env, encoding: "buffer", maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const exitCode = error ? Number((error as { code?: unknown }).code ?? 1) : 0;
        resolve({ exitCode, stdout, stderr: stderr.toString("utf8") });
      },
    );
  });
}

describe("rclone against the share", () => {
  let share: RunningShare;
  let obscuredPassword: string;

  beforeAll(async () => {
    await requireTool("rclone");
    share = await startShare({
      tree: buildSampleTree(),
      auth: { username: USERNAME, password: PASSWORD },
    });
    obscuredPassword = (await runRclone(["obscure", PASSWORD])).stdout.toString().trim();
  });

  afterAll(() => share.close());

  const remoteArgs = () => [
    "--webdav-url",
    share.origin,
    "--webdav-vendor",
    "other",
    "--webdav-user",
    USERNAME,
    "--webdav-pass",
    obscuredPassword,
    "--low-level-retries",
    "1",
    "--retries",
    "1",
  ];

  it("lsf shows every tricky name", async () => {
    const result = await runRclone(["lsf", ...remoteArgs(), ":webdav:tricky"]);
    expect(result.exitCode, result.stderr).toBe(0);
    const names = result.stdout
      .toString("utf8")
      .split("\n")
      .filter((line) => line !== "");
    expect(names.sort()).toEqual([...TRICKY_NAMES, "sub folder#1/"].sort());
  });

  it("cat reads each tricky file", async () => {
    for (const name of TRICKY_NAMES) {
      const result = await runRclone(["cat", ...remoteArgs(), `:webdav:tricky/${name}`]);
      expect(result.exitCode, `${name}: ${result.stderr}`).toBe(0);
      expect(result.stdout.toString("utf8")).toBe(name);
    }
  });

  it("cat reads a file inside a tricky folder", async () => {
    const result = await runRclone([
      "cat",
      ...remoteArgs(),
      ":webdav:tricky/sub folder#1/inner?.txt",
    ]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout.toString()).toBe("inner");
  });

  it("cat reads the large file intact", async () => {
    const result = await runRclone(["cat", ...remoteArgs(), ":webdav:random.bin"]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(sha256Of(result.stdout)).toBe(sha256Of(RANDOM_BYTES));
  });

  it("cat with offset and count reads a range", async () => {
    const result = await runRclone([
      "cat",
      ...remoteArgs(),
      "--offset",
      "1000000",
      "--count",
      "4096",
      ":webdav:random.bin",
    ]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout.equals(RANDOM_BYTES.subarray(1000000, 1004096))).toBe(true);
  });

  it("cat of a failing stream fails", async () => {
    const result = await runRclone(["cat", ...remoteArgs(), ":webdav:broken.bin"]);
    expect(result.exitCode).not.toBe(0);
  });

  it("wrong password fails", async () => {
    const wrong = (await runRclone(["obscure", "p+a/ss:wo:rX"])).stdout.toString().trim();
    const args = remoteArgs();
    args[args.indexOf(obscuredPassword)] = wrong;
    const result = await runRclone(["lsf", ...args, ":webdav:tricky"]);
    expect(result.exitCode).not.toBe(0);
  });
});
