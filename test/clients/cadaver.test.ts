import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { makeTempDir, requireTool, runCommand, type TempDir } from "../harness/tools.js";
import {
  APP_REPOSITORY,
  OS_RELEASE,
  startClientFixture,
  type ClientFixture,
} from "./client-fixture.js";

/** Runs Debian's cadaver 0.24 with commands on its standard input, as a person would type them. */

let fixture: ClientFixture;
let home: TempDir;
let output: string;

beforeAll(async () => {
  fixture = await startClientFixture();
  // A fresh HOME, so that no ~/.cadaverrc or ~/.netrc of this machine changes the session.
  home = await makeTempDir("cadaver-home");
  const commands = [
    "ls",
    `cd ${fixture.registryName}/${APP_REPOSITORY}/_tags/v1`,
    "ls",
    "cd rootfs/etc",
    "ls",
    `get os-release ${join(home.path, "os-release")}`,
    "cat greeting.txt",
    "cd ../../layers",
    "ls",
    "quit",
  ];
  const cadaver = await requireTool("cadaver");
  const result = await runCommand(cadaver, [fixture.regdav.url], {
    cwd: home.path,
    env: { ...process.env, HOME: home.path },
    input: commands.join("\n") + "\n",
    timeoutMs: 60_000,
  });
  output = result.stdout.toString() + result.stderr;
});

afterAll(async () => {
  await home?.remove();
  await fixture?.stop();
});

describe("cadaver", () => {
  it("ls lists the root", () => {
    expect(output).toMatch(new RegExp(`Coll:\\s+${fixture.registryName.replace(/\./g, "\\.")}\\s`));
  });

  it("cd and ls show the image folder", () => {
    expect(output).toMatch(/Coll:\s+rootfs\s/);
    expect(output).toMatch(/Coll:\s+layers\s/);
    expect(output).toMatch(/\s+manifest\.json\s+\d+\s/);
  });

  it("ls lists rootfs files with sizes", () => {
    expect(output).toMatch(new RegExp(`\\s+os-release\\s+${OS_RELEASE.length}\\s`));
  });

  it("get downloads a rootfs file", async () => {
    expect(await readFile(join(home.path, "os-release"), "utf8")).toBe(OS_RELEASE);
  });

  it("cat prints a rootfs file", () => {
    expect(output).toContain("hello from regdav\n");
  });

  it("ls lists the layers folder", () => {
    expect(output).toMatch(/\s+1-[0-9a-f]{12}\.tar\.gz\s+\d+\s/);
    expect(output).toMatch(/Coll:\s+2-[0-9a-f]{12}\s/);
  });

  it("no command failed", () => {
    expect(output).not.toMatch(/failed/i);
  });
});
