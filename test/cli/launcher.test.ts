import { spawn } from "node:child_process";
import { readFile, symlink } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

import { respondsToHttp } from "../harness/service.js";
import { freePort, makeTempDir, runCommand, waitUntil, type TempDir } from "../harness/tools.js";
import { regdavBin } from "./cli-fixture.js";

/*
 * bin/regdav run as an executable, the way a user and npm's bin links run
 * it, and not as `node bin/regdav`. Its first lines start Node.js through sh.
 */

const folders: TempDir[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await folder.remove();
});

async function tempDir(prefix: string): Promise<TempDir> {
  const folder = await makeTempDir(prefix);
  folders.push(folder);
  return folder;
}

/** Returns the command line of a running process, as /proc records it. */
async function commandLineOf(pid: number): Promise<string[]> {
  const raw = await readFile(`/proc/${pid}/cmdline`, "utf8");
  return raw.split("\0").filter((part) => part !== "");
}

describe("bin/regdav as an executable", () => {
  it("starts Node.js with a small young generation", async () => {
    const cache = await tempDir("launcher-cache");
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/`;
    const child = spawn(regdavBin, ["serve", "--listen", `127.0.0.1:${port}`, "--cache-dir", cache.path], {
      stdio: "ignore",
    });
    try {
      await waitUntil("bin/regdav to answer OPTIONS", () => respondsToHttp(url, "OPTIONS"));
      const commandLine = await commandLineOf(child.pid!);
      expect(commandLine[0]).toMatch(/(^|\/)node$/);
      expect(commandLine).toContain("--max-semi-space-size=1");
      expect(commandLine.slice(-4)).toEqual(["--listen", `127.0.0.1:${port}`, "--cache-dir", cache.path]);
    } finally {
      child.kill("SIGTERM");
    }
  });

  it("runs through a symlink in a folder with a space", async () => {
    const folder = await tempDir("launcher link");
    const link = join(folder.path, "regdav");
    await symlink(regdavBin, link);
    const { stdout } = await runCommand(link, ["--version"]);
    expect(stdout.toString().trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("passes the arguments and exit code on", async () => {
    const child = spawn(regdavBin, ["serve", "--cache-size", "two apples"], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('invalid --cache-size "two apples"');
  });
});
