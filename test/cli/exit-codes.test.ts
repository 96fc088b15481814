import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { makeTempDir } from "../harness/tools.js";
import { runRegdav, startCliFixture, type CliFixture, type RunResult } from "./cli-fixture.js";

/** A loopback port where nothing listens: connections are refused at once. */
const deadRegistry = "127.0.0.1:1";

describe("regdav exit codes", () => {
  let fixture: CliFixture;
  let host: string;

  const run = (...args: string[]) => runRegdav([...args, ...fixture.treeArgs]);

  beforeAll(async () => {
    fixture = await startCliFixture({ bigBytes: 1024 });
    host = fixture.host;
  });

  afterAll(async () => {
    await fixture?.stop();
  });

  /** Checks the exit code, an empty stdout and one `regdav: ` line on stderr. */
  function expectFailure(result: RunResult, code: number, message: RegExp) {
    expect(result.code, result.stderr).toBe(code);
    expect(result.stdout.length, result.stdout.toString()).toBe(0);
    expect(result.stderr).toMatch(/^regdav: [^\n]+\n$/);
    expect(result.stderr).toMatch(message);
  }

  describe("1 for a path that is missing or of the wrong kind", () => {
    it.each([
      [["cat", "{host}/team/app:v1:/etc/nope"], /nope/],
      [["ls", "{host}/team/app:v1:/etc/nope"], /nope/],
      [["find", "{host}/team/app:v1:/nope"], /nope/],
      [["cp", "{host}/team/app:v1:/nope", "{tmp}/out"], /nope/],
      [["ls", "{host}/team/app:missing"], /not found/],
      [["cat", "{host}/team/none/such:v1:/etc/os-release"], /not found/],
      [["ls", "/{host}/team/app/_tags/v1/nothing"], /not found/],
      [["cat", "{host}/team/app:v1:/etc"], /is a folder/],
      [["ls", "{host}/team/app:v1:/etc/os-release/inside"], /os-release/],
      [["find", "{host}/team/app:v1:/etc/os-release/inside"], /os-release/],
    ])("%j", async (args, message) => {
      const scratch = await makeTempDir("cli-exit");
      try {
        const filled = args.map((arg) => arg.replace("{host}", host).replace("{tmp}", scratch.path));
        expectFailure(await run(...filled), 1, message);
      } finally {
        await scratch.remove();
      }
    });

    it("explains an artifact's missing rootfs", async () => {
      const result = await run("ls", `${host}/team/artifact:v1:/`);
      expectFailure(result, 1, /team\/artifact:v1 has no root filesystem .*it is an artifact/);
    });
  });

  describe("2 for usage mistakes", () => {
    it.each([
      [["ls", "--bogus"], /^regdav: unknown option "--bogus": run the command with --help for its options\n$/],
      [["frobnicate"], /unknown command "frobnicate"/],
      [["cat"], /needs a PATH/],
      [["find"], /takes one PATH/],
      [["ls", "a:/x", "b:/y"], /takes one PATH/],
      [["cp", "{host}/team/app:v1:/etc"], /takes a PATH and a DEST/],
      [["cat", "Upper/Case:/etc/os-release"], /invalid image reference "Upper\/Case": the repository name must be lowercase/],
      [["cat", "{host}/team/app@sha256:1234:/etc"], /invalid image reference/],
      [["ls", "--listen", "127.0.0.1:9", "/"], /--listen is an option of regdav serve only/],
      [["ls", "--platform", "linux", "/"], /invalid --platform "linux"/],
      [["ls", "--log-level", "loud", "/"], /invalid --log-level "loud"/],
      [["find", "/", "-type", "x"], /invalid -type "x"/],
      [["find", "/", "-maxdepth", "-1"], /maxdepth/],
      [["find", "/", "-maxdepth", "two"], /invalid -maxdepth "two"/],
      [["find", "/", "-name", "[ab"], /invalid -name pattern "\[ab"/],
      [["find", "/", "--json", "-print0"], /cannot be combined/],
      [["ls", "--source", "bad.name=/tmp", "/"], /invalid --source "bad\.name=\/tmp"/],
    ])("%j", async (args, message) => {
      const filled = args.map((arg) => arg.replace("{host}", host));
      expectFailure(await run(...filled), 2, message);
    });

    it("prints help with exit code 0", async () => {
      for (const command of ["ls", "cat", "find", "cp"]) {
        const result = await runRegdav([command, "--help"]);
        expect(result.code).toBe(0);
        expect(result.stdout.toString()).toMatch(new RegExp(`^Usage: regdav ${command} `));
      }
      const top = await runRegdav(["--help"]);
      expect(top.stdout.toString()).toMatch(/^ {2}ls +list a folder/m);
      expect(top.stdout.toString()).toMatch(/^ {2}cp +copy a file/m);
    });
  });

  describe("3 for a registry that fails", () => {
    it.each([
      ["ls", `${deadRegistry}/team/app:v1`],
      ["ls", `/${deadRegistry}/team/app/_tags`],
      ["cat", `${deadRegistry}/team/app:v1:/etc/os-release`],
      ["find", `${deadRegistry}/team/app:/etc`],
    ])("%s %s", async (command, path) => {
      expectFailure(await run(command, path), 3, /registry 127\.0\.0\.1:1 is unreachable/);
    });

    it("cp from an unreachable registry", async () => {
      const scratch = await makeTempDir("cli-exit");
      try {
        const result = await run("cp", `${deadRegistry}/team/app:v1:/etc`, join(scratch.path, "etc"));
        expectFailure(result, 3, /unreachable/);
      } finally {
        await scratch.remove();
      }
    });
  });

  describe("4 for local failures", () => {
    it("cp to a folder that does not exist", async () => {
      const scratch = await makeTempDir("cli-exit");
      try {
        const target = join(scratch.path, "missing", "etc");
        const result = await run("cp", `${host}/team/app:v1:/etc`, target);
        expectFailure(result, 4, /cannot write .*missing\/etc/);
      } finally {
        await scratch.remove();
      }
    });
  });
});
