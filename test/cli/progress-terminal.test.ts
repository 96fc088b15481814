import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from "vitest";

import { makeTempDir, repoRoot, requireTool, runCommand, type TempDir } from "../harness/tools.js";
import { regdavBin, runRegdav, startCliFixture, type CliFixture } from "./cli-fixture.js";

/** Quotes a word for sh. */
function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

describe("progress line", () => {
  let fixture: CliFixture;
  let cache: TempDir;

  beforeAll(async () => {
    fixture = await startCliFixture({ bigBytes: 16 * 1024 * 1024 });
  });

  afterAll(async () => {
    await fixture?.stop();
  });

  beforeEach(async () => {
    cache = await makeTempDir("cli-progress");
  });

  afterEach(async () => {
    await cache.remove();
  });

  const catArgs = () => [
    "cat",
    `${fixture.host}/team/app:v1:/data/big.bin`,
    "--cache-dir",
    join(cache.path, "cache"),
  ];

  /**
   * Runs regdav under a pseudo-terminal with `script` from util-linux, so
   * that stderr is a terminal, with stdout sent to a file. Returns what the
   * terminal received and regdav's exit code.
   */
  async function runOnTerminal(args: string[], stdoutPath: string): Promise<{ terminal: string; code: number }> {
    const script = await requireTool("script");
    const regdav = [process.execPath, regdavBin, ...args].map(shellQuote).join(" ");
    const command = `${regdav} > ${shellQuote(stdoutPath)}; echo "[exit $?]"`;
    const { stdout } = await runCommand(script, ["-qfec", command, "/dev/null"], { cwd: repoRoot });
    const output = stdout.toString("utf8");
    const match = /\[exit (\d+)\]\r?\n?$/.exec(output);
    expect(match, output).not.toBeNull();
    return { terminal: output.slice(0, match!.index), code: Number(match![1]) };
  }

  it("is drawn on a terminal during a layer pass", async () => {
    const stdoutPath = join(cache.path, "big.bin");
    const { terminal, code } = await runOnTerminal(catArgs(), stdoutPath);
    expect(code).toBe(0);

    expect(terminal).toMatch(/layer [0-9a-f]{12} {2}[\d.]+ (B|KiB|MiB) \/ [\d.]+ (KiB|MiB) {2}\d+%/);
    expect(terminal).toMatch(/(B|KiB|MiB)\/s/);
    expect(terminal).toContain("\r\x1b[2K");
    // The line is erased at the end, so the terminal ends clean.
    expect(terminal.endsWith("\r\x1b[2K")).toBe(true);
    expect((await readFile(stdoutPath)).equals(fixture.app.big)).toBe(true);
  });

  it("stays off when stderr is a pipe", async () => {
    const result = await runRegdav(catArgs());
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout.equals(fixture.app.big)).toBe(true);
  });

  it("does not mix into an error on the terminal", async () => {
    const args = ["cat", `${fixture.host}/team/app:v1:/nope`, "--cache-dir", join(cache.path, "cache")];
    const { terminal, code } = await runOnTerminal(args, join(cache.path, "out"));
    expect(code).toBe(1);
    // Everything up to the last erase is progress. The error line must follow an erase, whole.
    const afterLastErase = terminal.slice(terminal.lastIndexOf("\r\x1b[2K") + "\r\x1b[2K".length);
    expect(afterLastErase).toMatch(/^regdav: [^\r\n]*nope[^\r\n]*not found\r?\n?$/);
  });
});
